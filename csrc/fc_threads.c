#include "fc_threads.h"

#include <stdatomic.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Configuration, not kernel state: written by set_num_threads, read atomically. */
static atomic_int thread_limit = 0;
static atomic_int omp_max_at_init = 1;

/* Below this many multiply-adds per thread, another thread costs more than it saves. */
#define FC_MIN_WORK_PER_THREAD 65536.0

void fc_threads_init(void)
{
#ifdef _OPENMP
    atomic_store(&omp_max_at_init, omp_get_max_threads());
#endif
}

void fc_set_thread_limit(int n) { atomic_store(&thread_limit, n > 0 ? n : 0); }

int fc_get_thread_limit(void) { return atomic_load(&thread_limit); }

int fc_num_threads(void)
{
#ifdef _OPENMP
    int omp_max = omp_get_max_threads();
    int limit = atomic_load(&thread_limit);
    if (limit <= 0)
        return omp_max > 0 ? omp_max : 1;
    if (omp_max < atomic_load(&omp_max_at_init) && omp_max < limit)
        return omp_max > 0 ? omp_max : 1;
    return limit;
#else
    return 1;
#endif
}

int fc_team_size(double work)
{
    int nt = fc_num_threads();
    double useful = work / FC_MIN_WORK_PER_THREAD;
    if (useful < 1.0)
        return 1;
    if (useful < (double)nt)
        nt = (int)useful;
    return nt > 0 ? nt : 1;
}

int fc_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
