/*
 * proc_testutil.h - helpers of the tests that drive the stage binaries as processes
 * (bad inputs, crash safety, concurrency): spawn with a working folder and captured
 * output, wait with a deadline, snapshot a folder to see what a command created or
 * changed, hash a file, append a figure to $NSID_BIN/figures/<suite>.txt.
 */
#ifndef NSID_PROC_TESTUTIL_H
#define NSID_PROC_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/sha256.h"

#define PT_MAXARG 96

/*
 * Start argv[0] (a path) with argv in folder cwd (NULL: the current one), stdout and
 * stderr appended to out_file / err_file (NULL: /dev/null; the same name may be given for
 * both). Returns the pid, or -1 if fork failed. The child exits 127 if exec fails.
 */
static inline pid_t pt_spawn(const char *cwd, const char *const *argv, const char *out_file, const char *err_file)
{
    pid_t pid = fork();
    if (pid != 0) return pid;
    int out = open(out_file ? out_file : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = open(err_file ? err_file : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out < 0 || err < 0 || (cwd && chdir(cwd) != 0)) _exit(126);
    dup2(out, 1);
    dup2(err, 2);
    close(out);
    close(err);
    setpgid(0, 0); /* its own group: a kill reaches what it starts */
    char *args[PT_MAXARG];
    int n = 0;
    while (argv[n] && n < PT_MAXARG - 1) {
        args[n] = (char *)(uintptr_t)argv[n];
        n++;
    }
    args[n] = NULL;
    execv(args[0], args);
    _exit(127);
}

/*
 * Wait for pid at most timeout_ms (<= 0: forever). Returns the exit status, 128+N when
 * killed by signal N, or -1 on timeout (the process group is then SIGKILLed and reaped).
 */
static inline int pt_wait(pid_t pid, int timeout_ms)
{
    struct timespec t0, now, ms1 = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, timeout_ms > 0 ? WNOHANG : 0);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0 && errno != EINTR) return -2;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double ms = (double)(now.tv_sec - t0.tv_sec) * 1e3 + (double)(now.tv_nsec - t0.tv_nsec) / 1e6;
        if (timeout_ms > 0 && ms > timeout_ms) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        nanosleep(&ms1, NULL);
    }
}

/* Seconds on the monotonic clock. */
static inline double pt_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The whole of a small text file into buf (truncated to n-1 bytes); "" if unreadable. */
static inline const char *pt_slurp(const char *file, char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen(file, "rb");
    if (!f) return buf;
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = '\0';
    fclose(f);
    return buf;
}

/* sha256 of a file as 64 hex digits + NUL in hex; false if unreadable ("" then). */
static inline bool pt_sha256_file(const char *path, char hex[65])
{
    hex[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    struct nsid_sha256 h;
    nsid_sha256_init(&h);
    unsigned char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0) nsid_sha256_update(&h, buf, k);
    fclose(f);
    unsigned char d[NSID_SHA256_BYTES];
    nsid_sha256_final(&h, d);
    nsid_sha256_to_hex(hex, d);
    return true;
}

/* ---------------------------------------------------------------- folder snapshots */

struct pt_entry {
    char path[512];     /* relative to the snapshot's root */
    int64_t size;       /* bytes (-1 for a folder) */
    int64_t mtime_ns;   /* modification time */
    uint64_t ino;       /* inode (a rename over a file changes it) */
};

struct pt_snap {
    struct pt_entry *e; /* (n) */
    int n, cap;
};

static inline void pt_snap_free(struct pt_snap *s)
{
    free(s->e);
    memset(s, 0, sizeof *s);
}

static inline void pt_snap_walk(struct pt_snap *s, const char *root, const char *rel)
{
    char dir[4600];
    if (snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel) >= (int)sizeof dir)
        return; /* deeper than any test tree */
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char sub[512], full[5200];
        if (snprintf(sub, sizeof sub, "%s%s%.300s", rel, rel[0] ? "/" : "", de->d_name) >= (int)sizeof sub ||
            snprintf(full, sizeof full, "%s/%s", root, sub) >= (int)sizeof full)
            continue;
        struct stat st;
        if (lstat(full, &st) != 0) continue;
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 256;
            s->e = realloc(s->e, (size_t)s->cap * sizeof *s->e);
            if (!s->e) { fprintf(stderr, "out of memory\n"); exit(2); }
        }
        struct pt_entry *x = &s->e[s->n++];
        snprintf(x->path, sizeof x->path, "%s", sub);
        x->size = S_ISDIR(st.st_mode) ? -1 : (int64_t)st.st_size;
        x->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        x->ino = (uint64_t)st.st_ino;
        if (S_ISDIR(st.st_mode)) pt_snap_walk(s, root, sub);
    }
    if (d) closedir(d);
}

/* Every file and folder under root with size, mtime and inode. */
static inline void pt_snap_take(struct pt_snap *s, const char *root)
{
    memset(s, 0, sizeof *s);
    pt_snap_walk(s, root, "");
}

static inline const struct pt_entry *pt_snap_find(const struct pt_snap *s, const char *path)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->e[i].path, path)) return &s->e[i];
    return NULL;
}

/*
 * Call fn(ctx, path) for each entry of after that is new or changed since before (files
 * only; a folder's own mtime changes whenever something inside does).
 */
static inline void pt_snap_diff(const struct pt_snap *before, const struct pt_snap *after,
                                void (*fn)(void *ctx, const char *path), void *ctx)
{
    for (int i = 0; i < after->n; i++) {
        const struct pt_entry *a = &after->e[i], *b = pt_snap_find(before, a->path);
        if (a->size < 0) continue;
        if (!b || b->size != a->size || b->mtime_ns != a->mtime_ns || b->ino != a->ino) fn(ctx, a->path);
    }
}

/* ---------------------------------------------------------------- figures for .ci/run */

/*
 * Append "name value" to $NSID_BIN/figures/<suite>.txt (created), which .ci/run prints at
 * the end. Without NSID_BIN nothing is written.
 */
static inline void pt_figure(const char *suite, const char *name, const char *fmt, ...)
{
    const char *bin = getenv("NSID_BIN");
    if (!bin) return;
    char path[4400];
    snprintf(path, sizeof path, "%s/figures", bin);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/figures/%s.txt", bin, suite);
    FILE *f = fopen(path, "a");
    if (!f) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(f, "%s ", name);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    va_end(ap);
    fclose(f);
}

/* Remove $NSID_BIN/figures/<suite>.txt (a test run starts its figures afresh). */
static inline void pt_figures_reset(const char *suite)
{
    const char *bin = getenv("NSID_BIN");
    if (!bin) return;
    char path[4400];
    snprintf(path, sizeof path, "%s/figures/%s.txt", bin, suite);
    unlink(path);
}

#endif
