/*
 * nsid-bench - throughput of the paper's model (issue 8): a training step
 * (forward + Poisson loss + backward + Adam) with 1,000 and 8,000 neurons, a
 * transfer step (frozen core) with 1,000, and the evaluation forward with 1,000
 * and 8,000, batch 64 of 1x36x64 images; and the same training and transfer
 * steps at batch 8, the reproduction's batch (the -b8 cases; make runs one run
 * per core, so read them with --threads 1). At batch 8 the per-step costs that
 * do not scale with the batch (Adam over every parameter, the readout's setup,
 * the pool's barriers) weigh 8 times more per image.
 *
 *     nsid-bench [--quick] [--threads N] [--steps S] [--warmup W] [--isa SET] [--case NAME]...
 *
 * Each case runs in its own child process (so peak RSS is the case's own), on
 * deterministic synthetic data held in memory (no disk I/O), W warm-up steps
 * then S timed steps; the figure is the median step. Printed: the analytic FLOP
 * count per layer (PyTorch's convention: multiply-adds x 2, a backward costs two
 * forwards, one for a layer whose input gradient is not needed), per case the
 * median step, images/s, achieved GFLOP/s, the fraction of the machine's FMA
 * ceiling (measured here with the kernel set's own FMA loop on the same threads),
 * CPU seconds per step (meaningful on a shared machine), peak RSS and threads,
 * and finally one line per case for scripts:
 *
 *     bench CASE images_per_s=X gflops=Y peak_rss_mib=Z threads=T
 *
 * The case `kernels` times each compute kernel of a training step alone, on one
 * image's operands of the paper's layer shapes, cache-hot, one thread: GFLOP/s
 * and the fraction of the one-thread FMA ceiling of every convolution kernel, the
 * microseconds of each BatchNorm/ELU pass, and what a training image of
 * train-1000's core would cost if it were nothing but these calls at these rates
 * (no im2col, readout, loss, Adam or memory traffic): the best fraction of the
 * ceiling this structure of the step can reach. Its line for scripts:
 *
 *     bench kernels pw_gflops=.. pwg_gflops=.. dw_gflops=.. dwg_gflops=.. l0_gflops=.. l0g_gflops=..
 *                   tile_gflops=.. bn_us=.. image_ms=.. fraction=..
 *
 * (tile_gflops: the pointwise tile's inner step alone on L1-resident operands, the
 * most a pointwise kernel built of it can reach).
 *
 * --quick (CI): 1 warm-up and 2 timed steps. It is a measurement, not a test:
 * nothing here asserts a time. Exit status 0 unless a case fails to run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/pool.h"
#include "base/rng.h"
#include "base/opt.h"
#include "nn/kern.h"
#include "nn/model.h"
#include "stage.h"

#define BATCH_MAX 64  /* the largest case batch: the data and the model's state are sized for it */
#define IMG_H 36
#define IMG_W 64
#define N_DATA 4      /* distinct synthetic batches, cycled */
#define MAX_STEPS 1000
#define NSID_BENCH_STR_(x) #x
#define NSID_BENCH_STR(x) NSID_BENCH_STR_(x)

enum bench_kind { BENCH_TRAIN, BENCH_TRANSFER, BENCH_EVAL, BENCH_KERNELS };

struct bench_case {
    const char *name;
    int kind;        /* enum bench_kind */
    int neurons;
    int batch;       /* images per step, at most BATCH_MAX */
};

static const struct bench_case cases[] = {
    {"train-1000", BENCH_TRAIN, 1000, 64},        {"train-8000", BENCH_TRAIN, 8000, 64},
    {"transfer-1000", BENCH_TRANSFER, 1000, 64},  {"eval-1000", BENCH_EVAL, 1000, 64},
    {"eval-8000", BENCH_EVAL, 8000, 64},          {"train-1000-b8", BENCH_TRAIN, 1000, 8},
    {"train-8000-b8", BENCH_TRAIN, 8000, 8},      {"transfer-1000-b8", BENCH_TRANSFER, 1000, 8},
    {"kernels", BENCH_KERNELS, 0, 1},
};
#define N_CASES ((int)(sizeof cases / sizeof cases[0]))

/*
 * The kernels of a training step as the `kernels` case times them, at the paper's
 * shapes (64 channels; layer 0's 15x15 convolution, as its im2col GEMM, leaves
 * 22x50 maps of the 36x64 images; 13x13 depthwise): calls per training image of
 * train-1000's core, analytic FLOPs per call (0: a BatchNorm/ELU pass, reported in
 * microseconds).
 */
enum { K_PW, K_PWG, K_DW, K_DWG, K_L0, K_L0G, K_BN_ELU, K_BN_STATS, K_BN_BWD_SUMS, K_BN_BWD_APPLY, N_KERN };
enum {
    KB_C = 64, KB_K0 = 15, KB_K = 13,
    KB_H = IMG_H - KB_K0 + 1, KB_W = IMG_W - KB_K0 + 1,
    KB_KC = KB_K0 * 16 /* layer0's im2col width: each kernel row padded to 16 columns */
};
#define KB_P ((double)KB_H * KB_W)

static const struct kern_case {
    const char *key;
    const char *what;
    int per_image;
    double flops;
} kcases[N_KERN] = {
    [K_PW] = {"pw", "pointwise 1x1 64->64 (forward, input gradient)", 12, 2.0 * KB_C * KB_C * KB_P},
    [K_PWG] = {"pwg", "pointwise weight gradient", 6, 2.0 * KB_C * KB_C * KB_P},
    [K_DW] = {"dw", "depthwise 13x13 (forward, input gradient)", 6, 2.0 * KB_C * KB_K * KB_K * KB_P},
    [K_DWG] = {"dwg", "depthwise weight gradient", 3, 2.0 * KB_C * KB_K * KB_K * KB_P},
    [K_L0] = {"l0", "layer0 15x15 1->64 as a GEMM (im2col'd)", 1, 2.0 * KB_C * KB_K0 * KB_K0 * KB_P},
    [K_L0G] = {"l0g", "layer0 weight gradient", 1, 2.0 * KB_C * KB_K0 * KB_K0 * KB_P},
    [K_BN_ELU] = {"bn_elu", "BatchNorm + ELU", 4, 0.0},
    [K_BN_STATS] = {"bn_stats", "BatchNorm statistics", 4, 0.0},
    [K_BN_BWD_SUMS] = {"bn_bwd_sums", "BatchNorm + ELU backward, sums", 4, 0.0},
    [K_BN_BWD_APPLY] = {"bn_bwd_apply", "BatchNorm backward, apply", 4, 0.0},
};

/* What a case's child process reports back through its pipe. */
struct bench_result {
    int ok;
    int threads;
    char isa[16];
    double median_s;    /* median wall time of one step */
    double min_s;       /* fastest step */
    double cpu_s;       /* process CPU time per step */
    double peak_rss_mib;
    double kern_s[N_KERN];  /* kernels: median seconds per call */
};

struct bench_opts {
    int quick, threads, steps, warmup;
    const char *isa;
    int run[N_CASES];   /* which cases */
};

/* ------------------------------------------------------------------ helpers */

/* Monotonic wall-clock seconds. */
static double wall_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU seconds of the whole process (all threads). */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* qsort order of doubles. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of t[0..n) (n >= 1), sorting t in place (t[0] is then the smallest). */
static double median_sort(double *t, int n)
{
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Peak resident set size of this process, MiB. */
static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;  /* KiB on Linux */
}

/* --------------------------------------------------------------- FLOP count */

/* Analytic FLOPs of one image's forward through the paper's core, printed per layer when verbose. */
static double core_forward_flops(const struct nsid_core *c, double *layer0, int verbose)
{
    double total = 0.0;
    for (int k = 0; k < c->cfg.layers; k++) {
        const struct nsid_core_layer *l = &c->layer[k];
        double P = (double)l->H * l->W, Pin = (double)l->H_in * l->W_in, C = c->cfg.hidden_channels;
        double KK = (double)l->conv.K * l->conv.K, f;
        if (l->ds) {
            double fi = 2.0 * C * l->C_in * Pin, fs = 2.0 * C * KK * P, fo = 2.0 * C * C * P;
            f = fi + fs + fo;
            if (verbose)
                printf("  layer%d  1x1 %d->%d %8.2f | depthwise %dx%d %8.2f | 1x1 %8.2f  = %8.2f MFLOP\n", k,
                       l->C_in, (int)C, fi / 1e6, l->conv.K, l->conv.K, fs / 1e6, fo / 1e6, f / 1e6);
        } else {
            f = 2.0 * C * l->C_in * KK * P;
            if (verbose)
                printf("  layer%d  conv %dx%d %d->%d on %dx%d                                = %8.2f MFLOP\n", k,
                       l->conv.K, l->conv.K, l->C_in, (int)C, l->H, l->W, f / 1e6);
        }
        if (k == 0) *layer0 = f;
        total += f;
    }
    return total;
}

/* FLOPs of one image of a case: forward, plus the backward (2x forward; 1x for layer 0 and a frozen core's readout). */
static double case_flops(const struct nsid_core *c, const struct bench_case *bc, int verbose)
{
    double l0 = 0.0, core = core_forward_flops(c, &l0, verbose);
    /* Gaussian readout: per neuron 4 bilinear taps of C channels and a C-long dot product */
    double ro = 2.0 * 5.0 * c->out_c * bc->neurons;
    if (verbose) printf("  readout Gaussian, %d neurons: %.2f MFLOP forward\n", bc->neurons, ro / 1e6);
    switch (bc->kind) {
    case BENCH_TRAIN: return core + 2.0 * core - l0 + 3.0 * ro;
    case BENCH_TRANSFER: return core + 2.0 * ro;
    default: return core + ro;
    }
}

/* ------------------------------------------------------------------ one case */

/* Synthetic data of one batch: images N(0,1), responses Poisson(0.4 + 0.6 u). */
struct bench_data {
    float *img[N_DATA], *resp[N_DATA];
};

/* N_DATA batches of images and responses for N neurons, deterministic. */
static int data_init(struct bench_data *d, int N, struct nsid_err *err)
{
    memset(d, 0, sizeof *d);
    struct nsid_rng r;
    nsid_rng_init(&r, 2021, NSID_STREAM_SIMULATE);
    for (int i = 0; i < N_DATA; i++) {
        size_t ni = (size_t)BATCH_MAX * IMG_H * IMG_W, nr = (size_t)BATCH_MAX * N;
        d->img[i] = NSID_ALLOC(sizeof(float) * ni, err);
        d->resp[i] = NSID_ALLOC(sizeof(float) * nr, err);
        if (!d->img[i] || !d->resp[i]) return NSID_ENOMEM;
        for (size_t k = 0; k < ni; k++) d->img[i][k] = (float)nsid_rng_normal(&r);
        for (size_t k = 0; k < nr; k++)
            d->resp[i][k] = (float)nsid_rng_poisson(&r, 0.4 + 0.6 * nsid_rng_uniform(&r));
    }
    return 0;
}

/* Release what data_init took (safe after a partial init). */
static void data_free(struct bench_data *d)
{
    for (int i = 0; i < N_DATA; i++) {
        nsid_alloc_free(d->img[i]);
        nsid_alloc_free(d->resp[i]);
    }
}

/* One scan of N neurons at random cortical positions (deterministic). */
static int model_build(struct nsid_model *m, int N, int threads, const char *isa, struct nsid_err *err)
{
    struct nsid_model_config cfg;
    nsid_model_config_default(&cfg);
    cfg.threads = threads;
    snprintf(cfg.isa, sizeof cfg.isa, "%s", isa ? isa : "");
    double *coords = NSID_ALLOC(sizeof(double) * 3 * (size_t)N, err);
    if (!coords) return NSID_ENOMEM;
    struct nsid_rng r;
    nsid_rng_init(&r, 7, NSID_STREAM_SUBSET);
    for (int i = 0; i < 3 * N; i++) coords[i] = nsid_rng_uniform_range(&r, -400.0, 400.0);
    struct nsid_model_scan sc = {.data_key = "bench-1-1-0", .n_neurons = N, .n_trials = 5000, .channels = 1,
                                 .height = IMG_H, .width = IMG_W, .coords = coords};
    int rc = nsid_model_init(m, &cfg, &sc, 1, err);
    nsid_alloc_free(coords);
    if (rc == 0) rc = nsid_model_alloc_state(m, BATCH_MAX, err);
    return rc;
}

/* One step of the case on batch i. */
static void case_step(struct nsid_model *m, const struct bench_case *bc, const struct bench_data *d, int i,
                      struct nsid_rng *sample, const struct nsid_adam_config *adam)
{
    struct nsid_model_batch b = {.scan = 0, .B = bc->batch, .images = d->img[i % N_DATA],
                                 .responses = d->resp[i % N_DATA]};
    if (bc->kind == BENCH_EVAL) {
        nsid_model_predict(m, &b);
        return;
    }
    nsid_model_zero_grad(m);
    nsid_model_train_batch(m, &b, sample);
    nsid_model_adam_step(m, adam);
}

/* Run a case in this (child) process; fills res. */
static void case_run(const struct bench_case *bc, const struct bench_opts *o, struct bench_result *res)
{
    struct nsid_err err = {0};
    struct nsid_model m;
    struct bench_data d;
    memset(res, 0, sizeof *res);
    if (data_init(&d, bc->neurons, &err) < 0 || model_build(&m, bc->neurons, o->threads, o->isa, &err) < 0) {
        fprintf(stderr, "nsid-bench: %s: ", bc->name);
        nsid_err_print(&err, stderr);
        data_free(&d);
        return;
    }
    /* first-batch mean response as the readout bias (as the trainer does) */
    float *mean = NSID_CALLOC(sizeof(float) * (size_t)bc->neurons, &err);
    for (int b = 0; mean && b < bc->batch; b++)
        for (int n = 0; n < bc->neurons; n++) mean[n] += d.resp[0][(size_t)b * bc->neurons + n] / bc->batch;
    if (mean) nsid_model_set_bias(&m, 0, mean);
    nsid_alloc_free(mean);
    nsid_model_set_frozen_core(&m, bc->kind == BENCH_TRANSFER);
    struct nsid_adam_config adam;
    nsid_adam_config_default(&adam);
    struct nsid_rng sample;
    nsid_rng_init(&sample, 1, NSID_STREAM_SAMPLE);
    for (int i = 0; i < o->warmup; i++) case_step(&m, bc, &d, i, &sample, &adam);
    double t[MAX_STEPS], c0 = cpu_now();
    for (int i = 0; i < o->steps; i++) {
        double w0 = wall_now();
        case_step(&m, bc, &d, o->warmup + i, &sample, &adam);
        t[i] = wall_now() - w0;
    }
    res->cpu_s = (cpu_now() - c0) / o->steps;
    res->median_s = median_sort(t, o->steps);
    res->min_s = t[0];
    res->threads = nsid_pool_threads(&m.pool);
    snprintf(res->isa, sizeof res->isa, "%s", m.kern->name);
    res->peak_rss_mib = peak_rss_mib();
    res->ok = 1;
    nsid_model_free(&m);
    data_free(&d);
}

/* ------------------------------------------------------------ kernels alone */

/* The operands of one image of the paper's layers, cache-hot (see kcases). */
struct kern_bufs {
    float *in, *out, *w, *pad, *wdw, *col, *w0, *act, *pre, *small;
    double *sum0, *sum1;
};

/* One call of kernel i on the buffers. */
static void kern_call(const struct nsid_kern *k, int i, const struct kern_bufs *b)
{
    int vb = k->vb, nb = KB_C / vb, P = KB_H * KB_W, pad = KB_K / 2;
    struct nsid_kpw pw = {.P = P, .ci = KB_C, .nbo = nb, .ldw = KB_C, .in_bs = (size_t)P * vb, .in_ps = (size_t)vb,
                          .out_bs = (size_t)P * vb, .out_ps = (size_t)vb};
    struct nsid_kpw col = {.P = P, .ci = KB_KC, .nbo = nb, .ldw = KB_C, .in_bs = (size_t)vb, .in_ps = KB_KC,
                           .out_bs = (size_t)P * vb, .out_ps = (size_t)vb};
    struct nsid_kdw dw = {.nb = nb, .OH = KB_H, .OW = KB_W, .K = KB_K, .Hp = KB_H + KB_K - 1, .Wp = KB_W + KB_K - 1,
                          .r0 = pad, .r1 = pad + KB_H};
    const float *s = b->small; /* scale, shift, mean, rstd, gr, a, b: KB_C each */
    switch (i) {
    case K_PW: k->pw_forward(b->out, b->in, b->w, &pw); break;
    case K_PWG: k->pw_wgrad(b->w, b->in, b->out, &pw); break;
    case K_DW: k->dw_forward(b->out, b->pad, b->wdw, &dw); break;
    case K_DWG: k->dw_wgrad(b->wdw, b->out, b->pad, &dw); break;
    case K_L0: k->pw_forward(b->out, b->col, b->w0, &col); break;
    case K_L0G: k->pw_wgrad(b->w0, b->col, b->out, &col); break;
    case K_BN_ELU: k->bn_elu(b->act, b->pre, s, s + KB_C, nb, P); break;
    case K_BN_STATS: k->bn_stats(b->sum0, b->sum1, b->pre, nb, P); break;
    case K_BN_BWD_SUMS:
        k->bn_bwd_sums(b->sum0, b->sum1, b->out, b->in, b->act, b->pre, s + 2 * KB_C, s + 3 * KB_C, nb, P);
        break;
    default:
        k->bn_bwd_apply(b->out, b->in, b->pre, s + 2 * KB_C, s + 3 * KB_C, s + 4 * KB_C, s + 5 * KB_C, s + 6 * KB_C,
                        nb, P);
    }
}

/* Time every kernel alone (the `kernels` case): median seconds per call into res->kern_s. */
static void kernels_run(const struct bench_opts *o, struct bench_result *res)
{
    struct nsid_err err = {0};
    const struct nsid_kern *k = nsid_kern_select(o->isa ? o->isa : "auto", &err);
    if (!k) {
        nsid_err_print(&err, stderr);
        return;
    }
    size_t P = (size_t)KB_H * KB_W, img = KB_C * P, padded = (size_t)KB_C * (KB_H + KB_K - 1) * (KB_W + KB_K - 1);
    size_t n[] = {img, img, (size_t)KB_C * KB_C, padded, (size_t)KB_C * KB_K * KB_K, P * KB_KC, (size_t)KB_KC * KB_C,
                  img, img, 7 * KB_C};
    struct kern_bufs b = {0};
    float **f[] = {&b.in, &b.out, &b.w, &b.pad, &b.wdw, &b.col, &b.w0, &b.act, &b.pre, &b.small};
    struct nsid_rng r;
    nsid_rng_init(&r, 2021, NSID_STREAM_SIMULATE);
    int ok = 1;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        *f[i] = NSID_ALLOC(sizeof(float) * n[i], &err);
        if (!*f[i]) { ok = 0; continue; }
        for (size_t j = 0; j < n[i]; j++) (*f[i])[j] = (float)nsid_rng_uniform_range(&r, -0.5, 0.5);
    }
    for (int j = 0; ok && j < KB_C; j++) b.small[3 * KB_C + j] = 1.0f; /* rstd */
    b.sum0 = NSID_ALLOC(sizeof(double) * KB_C, &err);
    b.sum1 = NSID_ALLOC(sizeof(double) * KB_C, &err);
    if (ok && b.sum0 && b.sum1) {
        enum { CALLS = 8 }; /* calls per timed sample */
        for (int i = 0; i < N_KERN; i++) {
            double t[MAX_STEPS];
            for (int w = 0; w < o->warmup + 1; w++) kern_call(k, i, &b);
            for (int s = 0; s < o->steps; s++) {
                double w0 = wall_now();
                for (int c = 0; c < CALLS; c++) kern_call(k, i, &b);
                t[s] = (wall_now() - w0) / CALLS;
            }
            res->kern_s[i] = median_sort(t, o->steps);
        }
        res->ok = 1;
    } else {
        nsid_err_print(&err, stderr);
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) nsid_alloc_free(*f[i]);
    nsid_alloc_free(b.sum0);
    nsid_alloc_free(b.sum1);
    res->threads = 1;
    snprintf(res->isa, sizeof res->isa, "%s", k->name);
    res->peak_rss_mib = peak_rss_mib();
}

/* Fork a child for the case; the parent reads its result. Returns 0 on success. */
static int case_fork(const struct bench_case *bc, const struct bench_opts *o, struct bench_result *res)
{
    int fd[2];
    memset(res, 0, sizeof *res);
    if (pipe(fd) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(fd[0]);
        struct bench_result r;
        memset(&r, 0, sizeof r);
        if (bc->kind == BENCH_KERNELS) kernels_run(o, &r);
        else case_run(bc, o, &r);
        ssize_t w = write(fd[1], &r, sizeof r);
        close(fd[1]);
        _exit(w == (ssize_t)sizeof r && r.ok ? 0 : 1);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], res, sizeof *res);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return got == (ssize_t)sizeof *res && res->ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- FMA ceiling */

struct fma_ctx {
    const struct nsid_kern *k;
    long iters;
    float sink[NSID_POOL_MAX_THREADS];
};

/* One thread's FMA loop. */
static void fma_task(void *arg, int tid, int nt)
{
    struct fma_ctx *f = arg;
    (void)nt;
    f->sink[tid] = f->k->fma_loop(f->iters);
}

/* GFLOP/s of kernel set want's FMA loop (NULL: the best set's) on nt threads (best of 3). */
static double fma_ceiling(int nt, int quick, const char *want, const char **set)
{
    struct nsid_err err = {0};
    struct nsid_pool pool;
    struct fma_ctx f = {.k = nsid_kern_select(want ? want : "auto", &err), .iters = quick ? 2000000 : 20000000};
    if (!f.k) return 0.0;
    *set = f.k->name;
    if (nsid_pool_init(&pool, nt, &err) < 0) return 0.0;
    double best = 0.0;
    for (int r = 0; r < 3; r++) {
        double t0 = wall_now();
        nsid_pool_run(&pool, fma_task, &f);
        double t = wall_now() - t0, g = (double)nt * (double)f.iters * 24.0 * f.k->vb / t / 1e9;
        if (g > best) best = g;
    }
    nsid_pool_free(&pool);
    return best;
}

/* GFLOP/s of set name's pointwise tile step alone (pw_tile_loop), one thread, best of 3. */
static double tile_rate(const char *name, int quick)
{
    struct nsid_err err = {0};
    const struct nsid_kern *k = nsid_kern_select(name, &err);
    if (!k) return 0.0;
    long iters = quick ? 1000000 : 10000000;
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int r = 0; r < 3; r++) {
        double t0 = wall_now();
        sink += k->pw_tile_loop(iters);
        double g = (double)iters * k->pw_tile_flops / (wall_now() - t0) / 1e9;
        if (g > best) best = g;
    }
    (void)sink;
    return best;
}

/* What the kernels case's timings add up to, against its set's one-thread ceilings. */
struct kern_summary {
    const char *set;  /* the kernel set whose FMA loop gave ceil */
    double ceil;      /* its FMA loop, GFLOP/s */
    double tile;      /* its pointwise tile step alone, GFLOP/s */
    double image_s;   /* a training image of train-1000's core as the timed calls alone */
    double bn_s;      /* of which BatchNorm/ELU */
    double flops;     /* that image's analytic FLOPs */
};

static struct kern_summary kernels_summarize(const struct bench_result *kr, int quick)
{
    struct kern_summary s = {.set = "?"};
    s.ceil = fma_ceiling(1, quick, kr->isa, &s.set);
    s.tile = tile_rate(kr->isa, quick);
    for (int i = 0; i < N_KERN; i++) {
        s.image_s += kcases[i].per_image * kr->kern_s[i];
        s.flops += kcases[i].per_image * kcases[i].flops;
        if (kcases[i].flops == 0.0) s.bn_s += kcases[i].per_image * kr->kern_s[i];
    }
    return s;
}

/*
 * The kernels case's section: each kernel's rate against the one-thread FMA
 * ceiling, then a training image of train-1000's core as nothing but these calls.
 */
static void kernels_print(const struct bench_result *kr, const struct kern_summary *s)
{
    printf("\nkernels alone (%s, 1 thread, one image's operands, cache-hot; the %s FMA loop's ceiling %.1f GFLOP/s):\n",
           kr->isa, s->set, s->ceil);
    for (int i = 0; i < N_KERN; i++) {
        const struct kern_case *kc = &kcases[i];
        double t = kr->kern_s[i];
        if (kc->flops > 0.0)
            printf("  %-12s %-48s %7.1f us %7.1f GFLOP/s %5.1f%%  x%d\n", kc->key, kc->what, t * 1e6,
                   kc->flops / t / 1e9, 100.0 * kc->flops / t / 1e9 / s->ceil, kc->per_image);
        else
            printf("  %-12s %-48s %7.1f us                         x%d\n", kc->key, kc->what, t * 1e6, kc->per_image);
    }
    printf("  a training image of train-1000's core as these calls alone (x = calls; no im2col, readout, loss,\n"
           "  Adam or memory traffic): %.3f ms, of which BatchNorm/ELU %.3f ms: %.1f%% of the ceiling at best\n",
           s->image_s * 1e3, s->bn_s * 1e3, 100.0 * s->flops / s->image_s / 1e9 / s->ceil);
    printf("  (depthwise FLOPs are analytic: the kernels skip the rows of zero padding, so they can pass 100%%)\n");
    printf("  the pointwise tile's inner step alone, operands in L1, no set-up or stores: %.1f GFLOP/s, %.1f%%\n"
           "  (the most a pointwise kernel of this set can reach)\n", s->tile, 100.0 * s->tile / s->ceil);
}

/* ---------------------------------------------------------------------- main */

/* Options into o (defaults: 3 + 15 steps, every case; --quick 1 + 2): 0 ok, 1 help printed, 2 usage error. */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
    long long threads = 0, steps = -1, warmup = -1; /* -1: not given */
    bool quick = false, help = false, version = false;
    struct nsid_opt_list names = {0};
    char case_help[256] = "run only the named cases:";
    for (int i = 0; i < N_CASES; i++)
        snprintf(case_help + strlen(case_help), sizeof case_help - strlen(case_help), " %s", cases[i].name);
    const struct nsid_opt opts[] = {
        {"quick", 0, NSID_OPT_FLAG, &quick, NULL, .help = "1 warm-up and 2 timed steps per case (CI)"},
        {"threads", 0, NSID_OPT_INT, &threads, "N", .min = 1, .max = NSID_POOL_MAX_THREADS, .env = "NSID_THREADS",
         .help = "compute threads (default: env NSID_THREADS, else the online CPUs)"},
        {"steps", 0, NSID_OPT_INT, &steps, "S", .min = 1, .max = MAX_STEPS,
         .help = "timed steps per case (default 15, at most " NSID_BENCH_STR(MAX_STEPS) ")"},
        {"warmup", 0, NSID_OPT_INT, &warmup, "W", .min = 0, .max = MAX_STEPS, .help = "warm-up steps per case (default 3)"},
        {"isa", 0, NSID_OPT_STRING, &o->isa, "SET", .env = "NSID_ISA",
         .help = "kernel set: auto, avx512, avx2, generic, generic16 (default: env NSID_ISA, else auto)"},
        {"case", 0, NSID_OPT_LIST, &names, "NAME", .help = case_help},
        NSID_STAGE_OPTS_END(&version, &help)};
    struct nsid_opt_cmd cmd = {"nsid-bench", opts, NULL, 0, nsid_stage_env};
    struct nsid_err err = {0};
    int rc = nsid_opt_parse(&cmd, argc - 1, argv + 1, &err);
    if (rc < 0) rc = nsid_opt_usage_error(&cmd, &err);
    else if (help) {
        printf("usage: nsid-bench [--quick] [--threads N] [--steps S] [--warmup W] [--isa SET] [--case NAME]...\n\n");
        nsid_opt_help(opts, stdout);
    }
    bool any = false;
    for (int i = 0; rc == 0 && i < names.n; i++) {
        int c = 0;
        while (c < N_CASES && strcmp(names.v[i], cases[c].name) != 0) c++;
        if (c == N_CASES) {
            fprintf(stderr, "nsid-bench: --case: no case '%s' (see --help)\n", names.v[i]);
            rc = 2;
        } else o->run[c] = any = true;
    }
    nsid_opt_list_free(&names);
    o->quick = quick;
    o->threads = (int)threads;
    o->steps = (int)(steps >= 0 ? steps : quick ? 2 : 15);
    o->warmup = (int)(warmup >= 0 ? warmup : quick ? 1 : 3);
    if (!any)
        for (int c = 0; c < N_CASES; c++) o->run[c] = 1;
    return rc;
}

int main(int argc, char **argv)
{
    if (nsid_stage_begin("nsid-bench", argc, argv)) return 0;
    struct bench_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    struct nsid_err err = {0};
    if (o.isa) {
        if (!nsid_kern_select(o.isa, &err)) {
            nsid_err_print(&err, stderr);
            return 2;
        }
    }
    /* the FLOP table needs only shapes: a model of the paper's core without state */
    struct nsid_core_config ccfg;
    nsid_core_config_default(&ccfg);
    struct nsid_params ps;
    struct nsid_core core;
    nsid_params_init(&ps);
    if (nsid_core_init(&core, &ccfg, IMG_H, IMG_W, &ps, "core", &err) < 0) {
        nsid_err_print(&err, stderr);
        return 1;
    }
    printf("nsid-bench: paper model, 1x%dx%d images, batch 64 (8 in the -b8 cases); %d warm-up + %d timed steps per case\n",
           IMG_H, IMG_W, o.warmup, o.steps);
    printf("analytic FLOPs per image (forward; a backward counts twice, once for layer0):\n");
    double flops[N_CASES];
    for (int c = 0; c < N_CASES; c++) flops[c] = case_flops(&core, &cases[c], c == 1);
    printf("  per image:");
    for (int c = 0; c < N_CASES; c++)
        if (cases[c].batch == BATCH_MAX) printf("%s %s %.3f GFLOP", c ? "," : "", cases[c].name, flops[c] / 1e9);
    printf(" (the -b8 cases as their batch-64 twins)\n");
    nsid_core_free(&core);
    nsid_params_free(&ps);

    struct bench_result res[N_CASES];
    int failed = 0, threads = 0;
    printf("\n%-16s %6s %8s %9s %9s %9s %9s %8s %8s\n", "case", "isa", "threads", "median_s", "min_s", "cpu_s",
           "images/s", "GFLOP/s", "RSS_MiB");
    for (int c = 0; c < N_CASES; c++) {
        if (!o.run[c]) continue;
        if (case_fork(&cases[c], &o, &res[c]) < 0) {
            fprintf(stderr, "nsid-bench: case %s failed\n", cases[c].name);
            failed = 1;
            continue;
        }
        if (cases[c].kind == BENCH_KERNELS) continue;  /* its own section, below */
        threads = res[c].threads;
        printf("%-16s %6s %8d %9.4f %9.4f %9.4f %9.1f %8.1f %8.1f\n", cases[c].name, res[c].isa, res[c].threads,
               res[c].median_s, res[c].min_s, res[c].cpu_s, cases[c].batch / res[c].median_s,
               cases[c].batch * flops[c] / res[c].median_s / 1e9, res[c].peak_rss_mib);
        fflush(stdout);
    }
    const char *fset = "?";
    double peak = fma_ceiling(threads ? threads : nsid_pool_default_threads(), o.quick, NULL, &fset);
    printf("\nFMA ceiling (%s FMA loop, %d threads): %.1f GFLOP/s; fraction achieved per case:\n", fset,
           threads ? threads : nsid_pool_default_threads(), peak);
    for (int c = 0; c < N_CASES; c++)
        if (o.run[c] && res[c].ok && cases[c].kind != BENCH_KERNELS)
            printf("  %-16s %5.1f%%\n", cases[c].name, 100.0 * cases[c].batch * flops[c] / res[c].median_s / 1e9 / peak);
    const struct bench_result *kr = NULL;
    for (int c = 0; c < N_CASES; c++)
        if (o.run[c] && res[c].ok && cases[c].kind == BENCH_KERNELS) kr = &res[c];
    struct kern_summary ks = {0};
    if (kr) {
        ks = kernels_summarize(kr, o.quick);
        kernels_print(kr, &ks);
    }
    printf("\n");
    for (int c = 0; c < N_CASES; c++)
        if (o.run[c] && res[c].ok && cases[c].kind != BENCH_KERNELS)
            printf("bench %s images_per_s=%.2f gflops=%.2f peak_rss_mib=%.1f threads=%d\n", cases[c].name,
                   cases[c].batch / res[c].median_s, cases[c].batch * flops[c] / res[c].median_s / 1e9, res[c].peak_rss_mib,
                   res[c].threads);
    if (kr) {
        printf("bench kernels");
        for (int i = 0; i < N_KERN; i++)
            if (kcases[i].flops > 0.0) printf(" %s_gflops=%.2f", kcases[i].key, kcases[i].flops / kr->kern_s[i] / 1e9);
        printf(" tile_gflops=%.2f bn_us=%.2f image_ms=%.4f fraction=%.4f\n", ks.tile, ks.bn_s * 1e6, ks.image_s * 1e3,
               ks.flops / ks.image_s / 1e9 / ks.ceil);
    }
    return failed;
}
