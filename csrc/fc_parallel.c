/*
 * fc_parallel.c - the elastic thread pool (see fc_parallel.h).
 *
 * A call posts a job on the list of open jobs and wakes workers; a worker takes a
 * job with a free slot, claims tasks until none is left, then looks for another
 * job or sleeps.  The tasks are cut into one segment per slot: a participant
 * claims from its own segment first, then from the others'.  Slot 0 is the
 * caller and workers take slots in the order they join, so consecutive calls
 * of a kernel mostly give a participant the same tasks, whose data its core
 * still caches (a single shared counter scattered the tasks at random, and a
 * kernel whose input fits the L2 caches read half of it from the other core).  A job leaves the list once its tasks are
 * all claimed or its slots all taken (by the worker that saw it, or by its caller
 * when the caller runs out of tasks), so a job on the list is always alive.  The
 * caller's job lives on its stack: participants claim their next task before
 * counting the current one done, so after counting their last task they never
 * touch the job again and the caller may return as soon as done == ntasks.
 */
#include "fc_parallel.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

/* Segments a job's tasks are cut into, at most (slots beyond share them). */
#define FC_JOB_SEGMENTS 8

/* Tasks [next, end) of a segment are unclaimed (next may run past end); one
 * cache line each, so participants claiming from their own do not collide. */
typedef struct {
    _Alignas(64) atomic_ptrdiff_t next;
    fc_index end;
} fc_segment;

typedef struct fc_job {
    fc_task_fn fn;
    void *ctx;
    fc_index ntasks;
    int nt;                /* participants at most, the caller included */
    int nseg;              /* segments in use: min(nt, FC_JOB_SEGMENTS) */
    int slots;             /* slots handed out (slot 0 is the caller's); under pool.lock */
    atomic_ptrdiff_t done; /* tasks completed */
    struct fc_job *link;   /* the next open job */
    fc_segment seg[FC_JOB_SEGMENTS];
} fc_job;

/* Upper bound on pool threads (callers ask for nt - 1 each). */
#define FC_POOL_MAX_WORKERS 256
/* How long an idle worker polls for the next job before it sleeps, and how long a
 * caller polls for the tasks workers claimed before it sleeps.  Waking a sleeping
 * thread costs tens of microseconds, as long as a whole small kernel call, and
 * the next call of a network's layers usually comes within a few hundred. */
#define FC_IDLE_SPIN_NS 1000000
#define FC_WAIT_SPIN_NS 200000

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* workers wait here for an open job */
    pthread_cond_t finished; /* callers wait here for tasks claimed by workers */
    fc_job *open;            /* jobs with unclaimed tasks and free slots, oldest first */
    atomic_int nopen;        /* jobs on `open`: polled by spinning workers without the lock */
    int workers;             /* threads started */
    int sleeping;            /* workers waiting on `wake` */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, 0};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* fork() with the lock held, so the child's copy of the pool is consistent; the
 * child has none of the workers, so it starts with an empty pool. */
static void fork_prepare(void) { pthread_mutex_lock(&pool.lock); }
static void fork_parent(void) { pthread_mutex_unlock(&pool.lock); }
static void fork_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.finished, NULL);
    pool.open = NULL;
    atomic_store(&pool.nopen, 0);
    pool.workers = 0;
    pool.sleeping = 0;
}
static void register_atfork(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Poll until cond(arg) holds or ns nanoseconds have passed; returns cond(arg).
 * The clock is read every 64 polls (a pause takes tens of cycles).  Every 64
 * polls the thread also yields: when the scheduler has put two of our threads
 * on one CPU (a virtual machine's vCPU taken away, another process busy), a
 * poller that never yields takes half the CPU from the thread it waits for.
 * Measured with the process pinned to one CPU: 2-thread calls took 1.8-2x the
 * 1-thread time before (max pooling, nearest upsampling, a depthwise layer). */
static int spin_until(int (*cond)(const void *), const void *arg, long long ns)
{
    const long long end = now_ns() + ns;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (cond(arg))
                return 1;
            cpu_relax();
        }
        sched_yield();
        if (now_ns() >= end)
            return cond(arg);
    }
}

static int job_posted(const void *arg)
{
    (void)arg;
    return atomic_load_explicit(&pool.nopen, memory_order_relaxed) > 0;
}

static int job_done(const void *arg)
{
    const fc_job *job = arg;
    return atomic_load(&job->done) >= job->ntasks;
}

static void unlink_job(fc_job *job)
{
    for (fc_job **at = &pool.open; *at; at = &(*at)->link)
        if (*at == job) {
            *at = job->link;
            atomic_fetch_sub(&pool.nopen, 1);
            return;
        }
}

/* An unclaimed task, from the slot's own segment if it has one left, else from
 * the next segments in turn; job->ntasks when every task is claimed. */
static fc_index claim_task(fc_job *job, int slot)
{
    for (int k = 0; k < job->nseg; k++) {
        fc_segment *sg = &job->seg[(slot + k) % job->nseg];
        if (atomic_load_explicit(&sg->next, memory_order_relaxed) >= sg->end)
            continue; /* drained: do not touch its line again */
        const fc_index t = atomic_fetch_add(&sg->next, 1);
        if (t < sg->end)
            return t;
    }
    return job->ntasks;
}

/* Run claimed task t, then claim and run more until none is left. */
static void run_tasks(fc_job *job, fc_index t, int slot, int notify)
{
    const fc_index n = job->ntasks;
    while (t < n) {
        job->fn(job->ctx, t, slot);
        const fc_index next = claim_task(job, slot);
        if (atomic_fetch_add(&job->done, 1) + 1 == n && notify) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_broadcast(&pool.finished);
            pthread_mutex_unlock(&pool.lock);
        }
        t = next; /* past n: the job is not touched again */
    }
}

static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        fc_job *job = pool.open;
        if (!job) {
            /* poll a while first: the next call usually comes soon */
            pthread_mutex_unlock(&pool.lock);
            spin_until(job_posted, NULL, FC_IDLE_SPIN_NS);
            pthread_mutex_lock(&pool.lock);
            if (pool.open)
                continue;
            pool.sleeping++;
            pthread_cond_wait(&pool.wake, &pool.lock);
            pool.sleeping--;
            continue;
        }
        const int slot = job->slots++;
        const fc_index t = claim_task(job, slot);
        if (job->slots >= job->nt || t >= job->ntasks)
            unlink_job(job);
        if (t >= job->ntasks)
            continue;
        pthread_mutex_unlock(&pool.lock);
        run_tasks(job, t, slot, 1);
        pthread_mutex_lock(&pool.lock);
    }
    return NULL;
}

/* Start workers until there are `want` (under pool.lock).  A failure only means
 * fewer helpers: the caller can always do all the work. */
static void grow_pool(int want)
{
    if (want > FC_POOL_MAX_WORKERS)
        want = FC_POOL_MAX_WORKERS;
    if (pool.workers >= want)
        return;
    pthread_once(&atfork_once, register_atfork);
    /* workers inherit a full signal mask: signals stay with Python's threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (pool.workers < want) {
        pthread_t th;
        if (pthread_create(&th, &attr, worker_main, NULL) != 0)
            break;
        pool.workers++;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Run a job on this copy's pool (nt >= 2, ntasks >= 2). */
static void pool_run(int nt, fc_index ntasks, fc_task_fn fn, void *ctx)
{
    if ((fc_index)nt > ntasks)
        nt = (int)ntasks;
    fc_job job = {.fn = fn, .ctx = ctx, .ntasks = ntasks, .nt = nt, .slots = 1, .link = NULL};
    job.nseg = nt < FC_JOB_SEGMENTS ? nt : FC_JOB_SEGMENTS;
    /* segment s: [s*q + min(s, r), (s+1)*q + min(s+1, r)), q = ntasks / nseg and
     * r = ntasks % nseg (no product that could overflow) */
    const fc_index q = ntasks / job.nseg, r = ntasks % job.nseg;
    for (int s = 0; s < job.nseg; s++) {
        atomic_init(&job.seg[s].next, s * q + (s < r ? s : r));
        job.seg[s].end = (s + 1) * q + (s + 1 < r ? s + 1 : r);
    }
    atomic_init(&job.done, 0);

    pthread_mutex_lock(&pool.lock);
    grow_pool(nt - 1);
    fc_job **tail = &pool.open;
    while (*tail)
        tail = &(*tail)->link;
    *tail = &job;
    atomic_fetch_add(&pool.nopen, 1);
    /* spinning workers see the job by themselves; wake sleeping ones */
    if (pool.sleeping > nt - 1)
        for (int i = 0; i < nt - 1; i++)
            pthread_cond_signal(&pool.wake);
    else if (pool.sleeping > 0)
        pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    run_tasks(&job, claim_task(&job, 0), 0, 0);

    /* every task is claimed: close the job, then wait for the claimed ones */
    pthread_mutex_lock(&pool.lock);
    unlink_job(&job);
    pthread_mutex_unlock(&pool.lock);
    if (!spin_until(job_done, &job, FC_WAIT_SPIN_NS)) {
        pthread_mutex_lock(&pool.lock);
        while (atomic_load(&job.done) < ntasks)
            pthread_cond_wait(&pool.finished, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
}

struct fc_pool {
    void (*run)(int nt, fc_index ntasks, fc_task_fn fn, void *ctx);
};
static const fc_pool own_pool = {pool_run};
/* Set once, when the extension module that links this copy is imported. */
static _Atomic(const fc_pool *) shared_pool = NULL;

const fc_pool *fc_parallel_own_pool(void) { return &own_pool; }

void fc_parallel_share_pool(const fc_pool *pool_to_use) { atomic_store(&shared_pool, pool_to_use); }

void fc_parallel_for(int nt, fc_index ntasks, fc_task_fn fn, void *ctx)
{
    if (nt <= 1 || ntasks <= 1) {
        for (fc_index t = 0; t < ntasks; t++)
            fn(ctx, t, 0);
        return;
    }
    const fc_pool *shared = atomic_load_explicit(&shared_pool, memory_order_acquire);
    (shared ? shared->run : pool_run)(nt, ntasks, fn, ctx);
}

typedef struct {
    fc_range_fn fn;
    void *ctx;
    fc_index n, per_task;
} fc_range_job;

static void range_task(void *ctx, fc_index task, int slot)
{
    const fc_range_job *r = ctx;
    const fc_index begin = task * r->per_task;
    const fc_index end = begin + r->per_task < r->n ? begin + r->per_task : r->n;
    r->fn(r->ctx, begin, end, slot);
}

/* Tasks per participant for fc_parallel_range: enough to even out the load when
 * a participant joins late or its core is shared. */
#define FC_RANGE_TASKS_PER_THREAD 8

void fc_parallel_range(int nt, fc_index n, fc_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (nt <= 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    fc_index tasks = (fc_index)nt * FC_RANGE_TASKS_PER_THREAD;
    if (tasks > n)
        tasks = n;
    fc_range_job r = {fn, ctx, n, (n + tasks - 1) / tasks};
    fc_parallel_for(nt, (n + r.per_task - 1) / r.per_task, range_task, &r);
}
