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
 * The pool's state is per copy of this file: every Python extension module
 * links the kernel library statically, so each module has its own pool (at most
 * nt - 1 workers each, asleep when idle).  One shared library would give one
 * pool; not done yet.
 */
#ifndef FC_PARALLEL_H
#define FC_PARALLEL_H

#include "fc_common.h"

typedef void (*fc_task_fn)(void *ctx, fc_index task, int slot);

/* Run fn(ctx, task, slot) for every task in [0, ntasks) on up to nt participants,
 * the calling thread included; returns when all tasks have completed.  nt <= 1 or
 * ntasks <= 1 runs inline.  Safe to call from several threads at once. */
void fc_parallel_for(int nt, fc_index ntasks, fc_task_fn fn, void *ctx);

typedef void (*fc_range_fn)(void *ctx, fc_index begin, fc_index end, int slot);

/* For loops over many small items (rows, planes): [0, n) cut into runs of
 * consecutive items, about 8 per participant, each run [begin, end) one task. */
void fc_parallel_range(int nt, fc_index n, fc_range_fn fn, void *ctx);

#endif /* FC_PARALLEL_H */
