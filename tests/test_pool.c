/* test_pool.c - base/pool's dynamic claiming (nsid_pool_each) and the thread-count text. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "base/pool.h"
#include "check.h"

#define N_ITEMS 1000

struct each_ctx {
    atomic_int runs[N_ITEMS];   /* how often each item ran */
    atomic_int bad_tid;         /* items run with a tid outside [0, nt) */
    int nt;
    long long scratch[8];       /* per-thread sums: tid must select a private slot */
};

static void each_item(void *arg, int64_t i, int tid)
{
    struct each_ctx *c = arg;
    if (tid < 0 || tid >= c->nt) {
        atomic_fetch_add(&c->bad_tid, 1);
        return;
    }
    atomic_fetch_add(&c->runs[i], 1);
    c->scratch[tid] += i;
}

/* Every item runs exactly once, on a tid below the pool's thread count. */
static void check_each(struct nsid_pool *p, int64_t n, const char *what)
{
    static struct each_ctx c;
    memset(&c, 0, sizeof c);
    c.nt = nsid_pool_threads(p);
    nsid_pool_each(p, n, each_item, &c);
    int once = 0, other = 0;
    for (int64_t i = 0; i < N_ITEMS; i++) {
        int r = atomic_load(&c.runs[i]);
        if (i < n) once += r == 1;
        else other += r != 0;
    }
    long long sum = 0;
    for (int t = 0; t < 8; t++) sum += c.scratch[t];
    long long want = n > 0 ? (long long)n * (n - 1) / 2 : 0;
    CHECK(once == (n > 0 ? n : 0) && other == 0 && atomic_load(&c.bad_tid) == 0,
          "%s: each of %lld items ran once (%d did, %d beyond n, %d bad tids)", what, (long long)n, once, other,
          atomic_load(&c.bad_tid));
    CHECK(sum == want, "%s: per-thread partials add up to %lld (got %lld)", what, want, sum);
}

int main(void)
{
    struct nsid_err err = {0};
    check_each(NULL, N_ITEMS, "no pool");
    for (int nt = 1; nt <= 8; nt *= 2) {
        struct nsid_pool p;
        CHECK(nsid_pool_init(&p, nt, &err) == 0, "pool of %d threads: %s", nt, err.msg);
        char what[64];
        snprintf(what, sizeof what, "%d threads, more items", nt);
        check_each(&p, N_ITEMS, what);
        snprintf(what, sizeof what, "%d threads, fewer items", nt);
        check_each(&p, 3, what);
        snprintf(what, sizeof what, "%d threads, no items", nt);
        check_each(&p, 0, what);
        snprintf(what, sizeof what, "%d threads, again", nt);
        check_each(&p, N_ITEMS, what); /* the same pool serves a second claim round */
        nsid_pool_free(&p);
    }

    /* NSID_THREADS text: a whole number in range, else 0 (the default) */
    CHECK(nsid_pool_threads_parse("3") == 3, "'3' is 3 threads");
    CHECK(nsid_pool_threads_parse(NULL) == 0 && nsid_pool_threads_parse("") == 0, "unset is the default");
    CHECK(nsid_pool_threads_parse("0") == 0 && nsid_pool_threads_parse("-2") == 0 &&
          nsid_pool_threads_parse("4x") == 0 && nsid_pool_threads_parse("100000") == 0,
          "a count outside 1..NSID_POOL_MAX_THREADS or not a number is the default");
    CHECK(nsid_pool_default_threads() >= 1 && nsid_pool_default_threads() <= NSID_POOL_MAX_THREADS,
          "the default is the CPUs, within 1..NSID_POOL_MAX_THREADS");
    return check_summary("pool");
}
