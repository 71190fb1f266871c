/*
 * fc_threads.h - the one place that decides how many threads a kernel uses.
 *
 * Scheme (see also README "Threads"):
 *  - fastconv's own kernels run their tasks on fastconv's thread pool
 *    (fc_parallel.h), with a team size computed once per call, in the calling
 *    thread, by fc_num_threads() / fc_team_size().  OpenMP runs no fastconv code;
 *    it is kept for the policy below, so that OMP_NUM_THREADS and threadpoolctl's
 *    'openmp' limit keep working (threadpoolctl changes OpenMP's per-thread ICV,
 *    which only omp_get_max_threads() can read).  fastconv never calls
 *    omp_set_num_threads, so the caller's own OpenMP setting is untouched.
 *  - The value is the limit set by fastconv.set_num_threads (or read from
 *    FASTCONV_NUM_THREADS at import) when there is one, else
 *    omp_get_max_threads() (which reflects OMP_NUM_THREADS and the usable cores).
 *    It is then capped by omp_get_max_threads() whenever that has dropped below
 *    its value at import: that is how threadpoolctl's OpenMP limit shows up, and
 *    it is per calling thread (joblib/threadpoolctl#207).
 *  - The BLAS path (algorithm='im2col') uses no pool threads at all: im2col runs
 *    in the calling thread and the GEMM's parallelism is BLAS's own, limited by
 *    threadpoolctl's 'blas' API.  So fastconv's and OpenBLAS's threads never nest
 *    (no oversubscription) and never run side by side in one call (two busy
 *    thread pools slow each other down even when not nested,
 *    OpenMathLib/OpenBLAS#3187).
 *  - Each output element is computed by exactly one task in a fixed order, so
 *    results are bitwise identical for any team size.
 */
#ifndef FC_THREADS_H
#define FC_THREADS_H

#include "fc_common.h"

/* Record omp_get_max_threads() as the import-time reference.  Called once when
 * the runtime module loads. */
void fc_threads_init(void);

/* Set the process-wide limit (n >= 1), or clear it (n <= 0). */
void fc_set_thread_limit(int n);

/* The limit set by fc_set_thread_limit, or 0 when none is set. */
int fc_get_thread_limit(void);

/* The team size for a call made from the calling thread (>= 1). */
int fc_num_threads(void);

/* The team size for `work` multiply-adds: fc_num_threads(), reduced so that each
 * thread gets at least a minimum amount of work (1 thread for tiny calls). */
int fc_team_size(double work);

/* 1 if built with OpenMP (the thread-count policy above), else 0: then
 * fc_num_threads() is 1 and every kernel runs in the calling thread. */
int fc_have_openmp(void);

#endif /* FC_THREADS_H */
