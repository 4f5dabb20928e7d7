/* sim_parallel.c - random streams and a parallel for, for the simulator (see sim_int.h). */
#include "sim_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* splitmix64 finaliser: a bijective 64-bit mixer. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t nsid__sim_stream(uint64_t purpose, uint64_t a, uint64_t b)
{
    /* Chain the three inputs through a bijective mixer so that no two
     * (purpose, a, b) triples collide in practice. */
    uint64_t h = mix64(purpose * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
    h = mix64(h ^ (a + 0x9e3779b97f4a7c15ULL));
    h = mix64(h ^ (b + 0xd1b54a32d192ed03ULL));
    return h;
}

int nsid__sim_threads(int configured)
{
    if (configured > 0) return configured;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 64) n = 64;
    return (int)n;
}

struct pool {
    nsid__sim_task fn;
    void *ctx;
    int64_t n;
    atomic_llong next;   /* next unclaimed item */
};

struct worker {
    struct pool *pool;
    int thread;
};

/* Claim and run items until none are left. */
static void run_items(struct pool *p, int thread)
{
    for (;;) {
        long long i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n) return;
        p->fn(p->ctx, (int64_t)i, thread);
    }
}

/* pthread entry of a worker. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    run_items(w->pool, w->thread);
    return NULL;
}

void nsid__sim_parallel(int threads, int64_t n, nsid__sim_task fn, void *ctx)
{
    if (n <= 0) return;
    if (threads > n) threads = (int)n;
    struct pool p = {.fn = fn, .ctx = ctx, .n = n};
    atomic_init(&p.next, 0);
    if (threads <= 1) {
        run_items(&p, 0);
        return;
    }
    enum { MAXT = 64 };
    if (threads > MAXT) threads = MAXT;
    pthread_t tid[MAXT];
    struct worker w[MAXT];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        w[t] = (struct worker){.pool = &p, .thread = t};
        if (pthread_create(&tid[t], NULL, worker_main, &w[t]) != 0) break;
        started = t;
    }
    /* If a thread could not start, the items still all run, on fewer threads. */
    run_items(&p, 0);
    for (int t = 1; t <= started; t++) pthread_join(tid[t], NULL);
}
