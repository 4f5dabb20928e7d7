/* test_base.c - errors, allocation, arenas and RNG streams. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/path.h"
#include "base/rng.h"
#include "check.h"

static void test_err(void)
{
    struct nsid_err err = {0};
    int rc = nsid_err_set(&err, NSID_EINVAL, "exp.yaml", 12, "lr", "%g not in [%g, %g]", 5.0, 1e-6, 1.0);
    char buf[2048];
    CHECK(rc == NSID_EINVAL, "nsid_err_set returns its code");
    CHECK(strcmp(nsid_err_str(&err, buf, sizeof buf), "exp.yaml:12: lr: 5 not in [1e-06, 1]") == 0,
          "error formats as file:line: key: msg, got '%s'", buf);
}

/* The discipline of err.h: the first error wins, clearing is the only overwrite, context fills gaps. */
static void test_err_first_wins(void)
{
    struct nsid_err err = {0};
    char buf[2048];
    nsid_err_set(&err, NSID_ENOTFOUND, "a.h5", 3, "responses", "missing");
    int rc = nsid_err_set(&err, NSID_EINVAL, "b.yaml", 9, "train.lr", "later");
    CHECK(rc == NSID_ENOTFOUND, "a second set returns the first code (%d)", rc);
    CHECK(strcmp(nsid_err_str(&err, buf, sizeof buf), "a.h5:3: responses: missing") == 0 && err.code == NSID_ENOTFOUND,
          "the first error wins: got '%s'", buf);
    nsid_err_clear(&err);
    CHECK(err.code == 0 && !err.file[0] && !err.key[0] && !err.msg[0] && err.line == 0, "clear empties every field");
    CHECK(nsid_err_set(&err, NSID_EIO, NULL, 0, NULL, "retry failed") == NSID_EIO && strcmp(err.msg, "retry failed") == 0,
          "after a clear the next error is recorded");

    /* context: only where the inner error left a field empty; a prefix goes before the message */
    nsid_err_clear(&err);
    nsid_err_set(&err, NSID_ENOMEM, NULL, 0, NULL, "cannot allocate 8 bytes");
    rc = nsid_err_context(&err, "scan.h5", 0, "images", "5 x 7 floats");
    CHECK(rc == NSID_ENOMEM && strcmp(nsid_err_str(&err, buf, sizeof buf),
                                      "scan.h5: images: 5 x 7 floats: cannot allocate 8 bytes") == 0,
          "context names the file and key of an anonymous error: got '%s'", buf);
    nsid_err_context(&err, "outer.yaml", 4, "data", NULL);
    CHECK(strcmp(err.file, "scan.h5") == 0 && strcmp(err.key, "images") == 0 && err.line == 4,
          "context keeps the inner file and key and fills only the empty line: %s:%d: %s", err.file, err.line, err.key);
    struct nsid_err clear = {0};
    CHECK(nsid_err_context(&clear, "x", 1, "k", "p") == 0 && clear.code == 0 && !clear.file[0] && !clear.msg[0],
          "context on a clear err leaves it clear");
    nsid_err_clear(&err);
    char long_prefix[NSID_ERR_MSG_MAX + 10];
    memset(long_prefix, 'p', sizeof long_prefix - 1);
    long_prefix[sizeof long_prefix - 1] = '\0';
    nsid_err_set(&err, NSID_EIO, NULL, 0, NULL, "inner");
    nsid_err_context(&err, NULL, 0, NULL, long_prefix);
    CHECK(strlen(err.msg) == NSID_ERR_MSG_MAX - 1, "a long prefix is truncated to the message size (%zu)",
          strlen(err.msg));

    /* nsid_alloc_oom names what asked for the memory, once */
    nsid_err_clear(&err);
    void *p = NSID_ALLOC((size_t)1 << 62, &err);
    CHECK(p == NULL && nsid_alloc_oom(&err, "s.h5", "responses", "2 x 3 floats") == NSID_ENOMEM &&
              strcmp(err.file, "s.h5") == 0 && strncmp(err.msg, "2 x 3 floats: ", 14) == 0,
          "an allocation failure gets the input's name: %s", err.msg);
    nsid_alloc_oom(&err, "outer.h5", "images", "other");
    CHECK(strcmp(err.file, "s.h5") == 0 && strncmp(err.msg, "2 x 3 floats: ", 14) == 0,
          "a second nsid_alloc_oom keeps the first names: %s", err.msg);

    /* err is required: a NULL err aborts (programmer error), in a child so that the test goes on */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr)) _exit(3);
        nsid_err_set(NULL, NSID_EIO, NULL, 0, NULL, "x");
        _exit(0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
          "nsid_err_set with a NULL err aborts (status %d)", status);
}

static void test_arena(void)
{
    struct nsid_err err = {0};
    struct nsid_arena a;
    nsid_alloc_arena_measure(&a);
    nsid_alloc_arena_floats(&a, 3, &err);
    nsid_alloc_arena_floats(&a, 100, &err);
    size_t need = a.used;
    CHECK(need == 64 + 448, "measuring counts aligned bytes (%zu)", need);
    CHECK(nsid_alloc_arena_init(&a, need, &err) == 0, "arena init");
    float *x = nsid_alloc_arena_floats(&a, 3, &err), *y = nsid_alloc_arena_floats(&a, 100, &err);
    CHECK(x && y && ((size_t)y % 64) == 0, "arena gives aligned buffers");
    CHECK(nsid_alloc_arena_floats(&a, 1, &err) == NULL && err.code == NSID_ENOMEM, "full arena fails cleanly");
    nsid_alloc_arena_reset(&a);
    CHECK(nsid_alloc_arena_floats(&a, 3, &err) == x, "reset reuses the block");
    nsid_alloc_arena_free(&a);
    nsid_alloc_arena_free(&a);
    nsid_err_clear(&err); /* the full arena's error is not the allocation's */
    void *p = NSID_ALLOC((size_t)1 << 62, &err);
    CHECK(p == NULL && err.code == NSID_ENOMEM && strstr(err.msg, "bytes"), "huge allocation reports its size");
}

static void test_rng(void)
{
    struct nsid_rng a, b, c;
    nsid_rng_init(&a, 42, NSID_STREAM_INIT);
    nsid_rng_init(&b, 42, NSID_STREAM_INIT);
    nsid_rng_init(&c, 42, NSID_STREAM_SHUFFLE);
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = nsid_rng_u64(&a), y = nsid_rng_u64(&b), z = nsid_rng_u64(&c);
        same &= x == y;
        differ += x != z;
    }
    CHECK(same, "same seed and stream give the same sequence");
    CHECK(differ == 1000, "streams are distinct");
    /* Pinned values: a change of generator changes every seeded result. */
    nsid_rng_init(&a, 1, 1);
    uint64_t first = nsid_rng_u64(&a);
    printf("rng(1,1) first draw %llu\n", (unsigned long long)first);
    double s = 0, s2 = 0, su = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double z = nsid_rng_normal(&a);
        s += z;
        s2 += z * z;
        su += nsid_rng_uniform(&a);
    }
    CHECK(fabs(s / n) < 0.01 && fabs(s2 / n - 1) < 0.02, "normal has mean 0, var 1 (%g, %g)", s / n, s2 / n);
    CHECK(fabs(su / n - 0.5) < 0.005, "uniform has mean 0.5 (%g)", su / n);
    double g = 0, p = 0;
    for (int i = 0; i < 20000; i++) { g += nsid_rng_gamma(&a, 2.5); p += (double)nsid_rng_poisson(&a, i % 2 ? 3.0 : 50.0); }
    CHECK(fabs(g / 20000 - 2.5) < 0.06, "gamma mean (%g)", g / 20000);
    CHECK(fabs(p / 20000 - 26.5) < 0.2, "poisson mean (%g)", p / 20000);
    int64_t perm[50], seen[50] = {0};
    nsid_rng_permutation(&a, perm, 50);
    int ok = 1;
    for (int i = 0; i < 50; i++) { if (perm[i] < 0 || perm[i] >= 50 || seen[perm[i]]++) ok = 0; }
    CHECK(ok, "permutation holds each index once");
}

/* base/path.h: the folder of an output, and creating one (issue 16 item 7). */
static void test_path(void)
{
    static const char *const cases[][2] = {{"a/b/c.h5", "a/b"}, {"c.h5", "."},   {"/c", "/"},      {"a/b/", "a"},
                                           {"a//b", "a"},       {"//x", "/"},    {"./x.db", "."},  {"a/b//c", "a/b"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        nsid_path_parent(cases[i][0], buf, sizeof buf);
        CHECK(strcmp(buf, cases[i][1]) == 0, "parent of '%s' is '%s' (got '%s')", cases[i][0], cases[i][1], buf);
    }
    CHECK(nsid_path_same("a/b", "./a//b/") && nsid_path_same(".", "./") && !nsid_path_same("a/b", "a/c") &&
              !nsid_path_same("/a", "a"),
          "same folder as text");
    char tmp[] = "/tmp/nsid_base_XXXXXX", p[256], q[256];
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    struct nsid_err err = {0};
    snprintf(p, sizeof p, "%s/x/y/file.h5", tmp);
    CHECK(nsid_path_check_parent(p, "--opt", NULL, &err) == NSID_ENOTFOUND && strcmp(err.key, "--opt") == 0 &&
              strcmp(err.file, p) == 0 && strstr(err.msg, "does not exist"),
          "missing folder refused, naming the option (%s)", err.msg);
    nsid_err_clear(&err);
    snprintf(q, sizeof q, "%s/x/y", tmp);
    CHECK(nsid_path_check_parent(p, "--opt", q, &err) == 0, "a folder the command creates passes");
    CHECK(nsid_path_mkdirs(q, "--out", &err) == 0 && nsid_path_is_dir(q), "mkdir -p");
    CHECK(nsid_path_mkdirs(q, "--out", &err) == 0, "an existing folder is fine");
    CHECK(nsid_path_check_parent(p, "--opt", NULL, &err) == 0, "existing folder passes");
    snprintf(p, sizeof p, "%s/x/y/f", tmp);
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
    snprintf(q, sizeof q, "%s/x/y/f/g", tmp);
    nsid_err_clear(&err);
    CHECK(nsid_path_mkdirs(q, "--out", &err) < 0 && strstr(err.msg, "is not a folder"), "a file in the way (%s)",
          err.msg);
    snprintf(q, sizeof q, "%s/x/y/f/g.h5", tmp);
    nsid_err_clear(&err);
    CHECK(nsid_path_check_parent(q, "--opt", NULL, &err) == NSID_EINVAL && strstr(err.msg, "is not a folder"),
          "a file as the folder (%s)", err.msg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void)
{
    test_err();
    test_err_first_wins();
    test_path();
    test_arena();
    test_rng();
    return check_summary("base");
}
