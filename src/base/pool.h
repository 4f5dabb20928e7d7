/*
 * pool.h - a small persistent thread pool: n threads (the caller plus n-1
 * workers) run one function together, with barriers inside it.
 *
 *     struct nsid_pool pool;                     // must not move after init
 *     nsid_pool_init(&pool, nsid_pool_default_threads(), &err);
 *     nsid_pool_run(&pool, fn, &ctx);            // fn(&ctx, tid, nt) on tid 0..nt-1; returns when all did
 *     ...  inside fn: nsid_pool_barrier(&pool);  // all nt threads wait for each other
 *     nsid_pool_free(&pool);
 *
 * Work is split statically (nsid_pool_range), never by who comes first, so a
 * computation that reduces per-thread or per-chunk partials in a fixed order
 * is deterministic. Where items are uneven and each item's result depends on
 * the item alone (tid only picks per-thread scratch), nsid_pool_each claims
 * them dynamically instead:
 *
 *     nsid_pool_each(&pool, n, item_fn, &ctx);  // item_fn(&ctx, i, tid) once per i in [0, n)
 * A NULL pool runs fn(ctx, 0, 1) in the caller and its
 * barrier is a no-op, so code written for the pool also runs without one.
 * The pool is owned by whoever creates it (the model); modules only borrow it.
 *
 * BLAS rule: nsid's kernels never call BLAS inside pool tasks, and when
 * n > 1 nsid_pool_init sets OpenBLAS to one thread
 * (openblas_set_num_threads(1), a process-wide setting) so that BLAS calls made
 * by code that runs while pool threads compute (or by pool tasks) do not
 * oversubscribe the cores. A program that wants multi-threaded BLAS elsewhere
 * sets it back itself.
 *
 * Threads sleep on a condition variable between runs (no spinning: the
 * machines nsid runs on are often shared).
 */
#ifndef NSID_POOL_H
#define NSID_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

#define NSID_POOL_MAX_THREADS 256

struct nsid_pool_worker {
    struct nsid_pool *pool;    /* back pointer */
    int tid;                   /* 1 .. n-1 */
    pthread_t thread;
};

struct nsid_pool {
    int n;                     /* threads including the caller, >= 1 */
    struct nsid_pool_worker *workers; /* (n - 1) worker threads */
    pthread_mutex_t mu;        /* guards everything below */
    pthread_cond_t start;      /* workers wait here for a run */
    pthread_cond_t done;       /* the caller waits here for the run's end */
    pthread_cond_t bar;        /* barrier waiters */
    unsigned long run_gen;     /* incremented per run */
    int busy;                  /* workers still inside the current run */
    void (*fn)(void *ctx, int tid, int nt); /* the current run's function */
    void *ctx;                 /* and its argument */
    bool stop;                 /* workers exit */
    int bar_count;             /* threads waiting at the barrier */
    unsigned long bar_gen;     /* barrier generation */
    int started;               /* workers started (for a clean free after a failed init) */
};

/*
 * Threads to use by default: the number of online CPUs (1 if unknown, at most
 * NSID_POOL_MAX_THREADS). The environment (NSID_THREADS) is read by the stage
 * programs, which pass the count on through their configuration.
 */
int nsid_pool_default_threads(void);

/*
 * A thread count from text (the stage programs pass getenv("NSID_THREADS")): the number when s
 * is a whole number in 1..NSID_POOL_MAX_THREADS, else 0 (= the default; NULL and "" included).
 */
int nsid_pool_threads_parse(const char *s);

/*
 * Start n - 1 workers (n = 1: none; everything runs in the caller). Returns
 * NSID_EINVAL for n outside 1..NSID_POOL_MAX_THREADS and NSID_ENOMEM/EINTERNAL
 * when threads cannot be created (p is then released and zeroed).
 */
int nsid_pool_init(struct nsid_pool *p, int n, struct nsid_err *err);

/* Run fn(ctx, tid, nt) on every thread (tid 0 = the caller) and wait for all. p may be NULL. */
void nsid_pool_run(struct nsid_pool *p, void (*fn)(void *ctx, int tid, int nt), void *ctx);

/*
 * Dynamic claiming: run fn(ctx, i, tid) exactly once for every item i in [0, n) on all threads of p
 * (the caller included) and wait for all; each thread claims the next unclaimed item from an
 * atomic counter. Which thread runs an item depends on timing, so fn's result must depend on i
 * alone (tid in [0, nsid_pool_threads(p)) selects per-thread scratch). p may be NULL: the caller
 * runs every item as tid 0. fn must not fail and must not call nsid_pool_barrier.
 */
void nsid_pool_each(struct nsid_pool *p, int64_t n, void (*fn)(void *ctx, int64_t i, int tid), void *ctx);

/* Inside a run: wait until all nt threads reached this barrier. No-op for NULL or n = 1. */
void nsid_pool_barrier(struct nsid_pool *p);

/* Threads of p (1 for NULL). */
int nsid_pool_threads(const struct nsid_pool *p);

/* [*lo, *hi): thread tid's share of n items in nt equal static parts. */
void nsid_pool_range(int n, int tid, int nt, int *lo, int *hi);

/* Stop and join the workers; safe on a zeroed struct and NULL. */
void nsid_pool_free(struct nsid_pool *p);

#endif
