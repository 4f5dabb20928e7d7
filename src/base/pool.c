/* pool.c - the persistent thread pool (see pool.h). */
#include "base/pool.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "base/alloc.h"

int nsid_pool_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    return n > NSID_POOL_MAX_THREADS ? NSID_POOL_MAX_THREADS : (int)n;
}

int nsid_pool_threads_parse(const char *s)
{
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return *end == '\0' && v >= 1 && v <= NSID_POOL_MAX_THREADS ? (int)v : 0;
}

/*
 * A worker: wait for a run generation it has not run yet (starting from 0, the
 * generation at init, so a run issued before the worker got the lock is not
 * missed), run its share, report, repeat until stop.
 */
static void *worker_main(void *arg)
{
    struct nsid_pool_worker *w = arg;
    struct nsid_pool *p = w->pool;
    int tid = w->tid;
    pthread_mutex_lock(&p->mu);
    unsigned long seen = 0;
    for (;;) {
        while (!p->stop && p->run_gen == seen) pthread_cond_wait(&p->start, &p->mu);
        if (p->stop) break;
        seen = p->run_gen;
        void (*fn)(void *, int, int) = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, tid, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int nsid_pool_init(struct nsid_pool *p, int n, struct nsid_err *err)
{
    memset(p, 0, sizeof *p);
    if (n < 1 || n > NSID_POOL_MAX_THREADS)
        return nsid_err_set(err, NSID_EINVAL, NULL, 0, "threads", "%d not in [1, %d]", n, NSID_POOL_MAX_THREADS);
    p->n = n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    pthread_cond_init(&p->bar, NULL);
    if (n == 1) return 0;
    openblas_set_num_threads(1);  /* see the BLAS rule in pool.h */
    p->workers = NSID_CALLOC(sizeof(struct nsid_pool_worker) * (size_t)(n - 1), err);
    if (!p->workers) goto fail;
    for (int t = 1; t < n; t++) {
        struct nsid_pool_worker *w = &p->workers[t - 1];
        w->pool = p;
        w->tid = t;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            nsid_err_set(err, NSID_EINTERNAL, NULL, 0, "threads", "cannot start worker thread %d of %d", t, n);
            goto fail;
        }
        p->started++;
    }
    return 0;
fail:
    nsid_pool_free(p);
    return err->code ? err->code : NSID_ENOMEM;
}

void nsid_pool_run(struct nsid_pool *p, void (*fn)(void *ctx, int tid, int nt), void *ctx)
{
    if (!p || p->n <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->busy = p->n - 1;
    p->run_gen++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

/* One nsid_pool_each call: the items and the next unclaimed one. */
struct each {
    void (*fn)(void *ctx, int64_t i, int tid);
    void *ctx;
    int64_t n;
    atomic_llong next;
};

/* A pool task: claim and run items until none are left. */
static void each_task(void *arg, int tid, int nt)
{
    (void)nt;
    struct each *e = arg;
    for (;;) {
        long long i = atomic_fetch_add(&e->next, 1);
        if (i >= e->n) return;
        e->fn(e->ctx, (int64_t)i, tid);
    }
}

void nsid_pool_each(struct nsid_pool *p, int64_t n, void (*fn)(void *ctx, int64_t i, int tid), void *ctx)
{
    if (n <= 0) return;
    struct each e = {.fn = fn, .ctx = ctx, .n = n};
    atomic_init(&e.next, 0);
    nsid_pool_run(p, each_task, &e);
}

void nsid_pool_barrier(struct nsid_pool *p)
{
    if (!p || p->n <= 1) return;
    pthread_mutex_lock(&p->mu);
    unsigned long gen = p->bar_gen;
    if (++p->bar_count == p->n) {
        p->bar_count = 0;
        p->bar_gen++;
        pthread_cond_broadcast(&p->bar);
    } else {
        while (p->bar_gen == gen) pthread_cond_wait(&p->bar, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

int nsid_pool_threads(const struct nsid_pool *p)
{
    return p && p->n > 1 ? p->n : 1;
}

void nsid_pool_range(int n, int tid, int nt, int *lo, int *hi)
{
    *lo = (int)((long long)n * tid / nt);
    *hi = (int)((long long)n * (tid + 1) / nt);
}

void nsid_pool_free(struct nsid_pool *p)
{
    if (!p || p->n == 0) return;
    if (p->started) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_broadcast(&p->start);
        pthread_mutex_unlock(&p->mu);
        for (int t = 0; t < p->started; t++) pthread_join(p->workers[t].thread, NULL);
    }
    nsid_alloc_free(p->workers);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->bar);
    memset(p, 0, sizeof *p);
}
