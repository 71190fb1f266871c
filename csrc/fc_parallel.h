/*
 * fc_parallel.h - fastconv's elastic thread pool: run tasks on up to nt threads
 * without a team barrier.
 *
 * Why not OpenMP teams: an OpenMP parallel region ends with a barrier that waits
 * for every team thread, so when one thread's core is busy with another process
 * the caller waits a whole scheduler timeslice (10-50 ms measured on a shared
 * 2-core machine, for kernels that take 0.2-3 ms) even though, with dynamic
 * scheduling, it could have done all the work itself.  Here the caller always
 * works (slot 0), pool workers join when they wake, every participant claims
 * tasks one at a time from a shared counter, and the caller waits only for tasks
 * that were actually claimed.
 *
 * Each task is run exactly once, by one participant; which one does not matter to
 * a kernel whose tasks write disjoint outputs in a fixed order, so results are
 * bitwise identical for any nt.  `slot` is unique among the participants of one
 * call (in [0, nt)) and indexes per-thread scratch.
 *
 * Idle workers poll for the next job for about a millisecond before they sleep
 * (waking a sleeping thread costs as much as a small kernel call).
 *
 * One pool per process: every Python extension module links the kernel library
 * statically, so each has a copy of this file; the _runtime module publishes its
 * copy's pool (fc_parallel_own_pool) and every other module, when imported, runs
 * its jobs there (fc_parallel_share_pool).  Separate pools would each keep up to
 * nt - 1 workers polling, more threads than cores.
 */
#ifndef FC_PARALLEL_H
#define FC_PARALLEL_H

#include "fc_common.h"

typedef void (*fc_task_fn)(void *ctx, fc_index task, int slot);

/* Run fn(ctx, task, slot) for every task in [0, ntasks) on up to nt participants,
 * the calling thread included; returns when all tasks have completed.  nt <= 1 or
 * ntasks <= 1 runs inline.  Safe to call from several threads at once. */
void fc_parallel_for(int nt, fc_index ntasks, fc_task_fn fn, void *ctx);

/* A pool: opaque outside fc_parallel.c. */
typedef struct fc_pool fc_pool;

/* The pool of this copy of the kernel library. */
const fc_pool *fc_parallel_own_pool(void);

/* Run this copy's later jobs on `pool` (another copy's), so a process has one. */
void fc_parallel_share_pool(const fc_pool *pool);

typedef void (*fc_range_fn)(void *ctx, fc_index begin, fc_index end, int slot);

/* For loops over many small items (rows, planes): [0, n) cut into runs of
 * consecutive items, about 8 per participant, each run [begin, end) one task. */
void fc_parallel_range(int nt, fc_index n, fc_range_fn fn, void *ctx);

#endif /* FC_PARALLEL_H */
