/*
 * test_eval.c - nsid-eval's plumbing checked by recomputing everything independently from
 * what it writes: the predictions file (test predictions, responses, trial indices) and the
 * scan file (repeat groups, true rates) give every per-neuron measure (single-trial and
 * repeat-average correlation, leave-one-out oracle, FEVE, true-rate correlation) and the
 * pooled fraction oracle over two scans, which must equal the file's datasets and the
 * run.db rows. A neuron subset evaluates exactly the selected neurons. An image-only model
 * predicts each distinct test image once: the same predictions as predicting every trial.
 */
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "data_testutil.h"
#include "exp/config.h"
#include "exp/eval.h"
#include "exp/rundata.h"
#include "exp/train.h"
#include "train_check.h"
#include "train_testutil.h"

static char tmp[4096];
static char scan_a[4400], scan_c[4400];

static const char *const SMALL[] = {"model.core.layers=2", "model.core.hidden_channels=8", "model.core.input_kern=5",
                                    "model.core.hidden_kern=3", "model.readout.gamma=0.1", "train.batch_size=16",
                                    "train.max_epochs=4"};

/* corr of neuralpredictors: mean z(a) z(b) with z = (x - mean) / (std_ddof0 + 1e-8). */
static double corr(const double *a, const double *b, int n)
{
    double ma = 0, mb = 0, va = 0, vb = 0, c = 0;
    for (int i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    for (int i = 0; i < n; i++) {
        va += (a[i] - ma) * (a[i] - ma);
        vb += (b[i] - mb) * (b[i] - mb);
    }
    double sa = sqrt(va / n) + 1e-8, sb = sqrt(vb / n) + 1e-8;
    for (int i = 0; i < n; i++) c += (a[i] - ma) / sa * (b[i] - mb) / sb;
    double r = c / n;
    return isnan(r) ? 0.0 : r;
}

struct indep {
    double test[64], avg[64], oracle[64], feve[64], gt[64];
};

/* Everything of one scan from the predictions file and the scan file. */
static int recompute(const char *pred_file, const char *key, const char *scan_file, int N, struct indep *out,
                     const int64_t *sel)
{
    char name[256];
    size_t n = 0;
    snprintf(name, sizeof name, "%s/predictions", key);
    float *p = tc_h5_floats(pred_file, name, &n);
    snprintf(name, sizeof name, "%s/responses", key);
    float *r = tc_h5_floats(pred_file, name, &n);
    snprintf(name, sizeof name, "%s/trials", key);
    float *tr = tc_h5_floats(pred_file, name, &n); /* int64 read as float: exact for small indices */
    struct nsid_scan s;
    struct nsid_err err = {0};
    if (!p || !r || !tr || nsid_scan_load(&s, scan_file, NULL, &err) < 0) return -1;
    int T = (int)n;
    const struct nsid_array *rates = nsid_scan_arrays_find(&s.ground_truth, "rates");
    double *a = malloc(sizeof(double) * (size_t)T), *b = malloc(sizeof(double) * (size_t)T);
    double *o = malloc(sizeof(double) * (size_t)T);
    for (int j = 0; j < N; j++) {
        for (int i = 0; i < T; i++) {
            a[i] = p[i * N + j];
            b[i] = r[i * N + j];
        }
        out->test[j] = corr(a, b, T);
        /* leave-one-out oracle and per-image means */
        double total_m = 0, noise = 0, pred_var = 0;
        int groups = 0;
        double gm[64], gp[64];
        for (int i = 0; i < T; i++) {
            int64_t gi = s.frame_image_id[(int64_t)tr[i]];
            double sum = 0;
            int cnt = 0;
            for (int k = 0; k < T; k++)
                if (s.frame_image_id[(int64_t)tr[k]] == gi) {
                    sum += b[k];
                    cnt++;
                }
            o[i] = (sum - b[i]) / (cnt - 1);
            bool first = true;
            for (int k = 0; k < i; k++) first &= s.frame_image_id[(int64_t)tr[k]] != gi;
            if (first) {
                double mean = sum / cnt, v = 0;
                for (int k = 0; k < T; k++)
                    if (s.frame_image_id[(int64_t)tr[k]] == gi) v += (b[k] - mean) * (b[k] - mean);
                noise += v / (cnt - 1);
                gm[groups] = mean;
                gp[groups] = a[i];
                groups++;
            }
            total_m += b[i];
            pred_var += (b[i] - a[i]) * (b[i] - a[i]);
        }
        out->oracle[j] = corr(b, o, T);
        out->avg[j] = corr(gp, gm, groups);
        total_m /= T;
        double total = 0;
        for (int i = 0; i < T; i++) total += (b[i] - total_m) * (b[i] - total_m);
        total /= T - 1;
        noise /= groups;
        pred_var /= T;
        out->feve[j] = 1.0 - (pred_var - noise) / (total - noise);
        for (int i = 0; i < T; i++)
            b[i] = nsid_scan_array_get_f64(rates, (size_t)((int64_t)tr[i] * s.n_neurons + (sel ? sel[j] : j)));
        out->gt[j] = corr(a, b, T);
    }
    free(a);
    free(b);
    free(o);
    free(p);
    free(r);
    free(tr);
    nsid_scan_free(&s);
    return 0;
}

/* A dataset of N doubles of the predictions file. */
static bool file_matches(const char *pred, const char *key, const char *what, const double *want, int N, double tol)
{
    char name[256];
    size_t n = 0;
    snprintf(name, sizeof name, "%s/%s", key, what);
    float *x = tc_h5_floats(pred, name, &n); /* float is enough at tol */
    bool ok = x && (int)n == N;
    for (int j = 0; ok && j < N; j++) ok = fabs((double)x[j] - want[j]) <= tol;
    free(x);
    return ok;
}

static int train_eval(const char *name, const char *const *extra, int n_extra, const char *const *data, int nd,
                      char *dir, size_t dn, struct nsid_eval_outcome *out)
{
    const char *sets[16];
    int n = 0;
    for (int i = 0; i < 7; i++) sets[n++] = SMALL[i];
    for (int i = 0; i < n_extra; i++) sets[n++] = extra[i];
    struct nsid_config c;
    struct nsid_err err = {0};
    snprintf(dir, dn, "%s/%s", tmp, name);
    struct nsid_train_opts o = {.data = data, .n_data = nd, .out_dir = dir};
    struct nsid_train_result r;
    char ck[4400], db[4400], pred[4400];
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", dir);
    snprintf(db, sizeof db, "%s/run.db", dir);
    snprintf(pred, sizeof pred, "%s/pred.h5", dir);
    const char *rev[2] = {data[nd - 1], data[0]}; /* scans in another order than training */
    struct nsid_eval_opts eo = {.checkpoint = ck, .data = nd == 2 ? rev : data, .n_data = nd, .db = db,
                                .predictions = pred};
    int rc = nsid_config_load(&c, NULL, sets, n, &err);
    if (rc == 0) rc = nsid_train_run(&c, &o, &r, &err);
    if (rc == 0) rc = nsid_eval_checkpoint(&eo, out, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    return rc;
}

static void test_two_scans(void)
{
    const char *data[] = {scan_a, scan_c};
    char dir[4200], pred[4400], db[4400], buf[256];
    struct nsid_eval_outcome out;
    CHECK(train_eval("two", NULL, 0, data, 2, dir, sizeof dir, &out) == 0 && out.recorded, "train + eval, two scans");
    snprintf(pred, sizeof pred, "%s/pred.h5", dir);
    snprintf(db, sizeof db, "%s/run.db", dir);
    static const struct { const char *key, *file; int N; } sc[2] = {{"10001-1-1-0", NULL, 24}, {"10001-1-2-0", NULL, 20}};
    static struct indep ind[2];
    double so = 0, soc = 0;
    for (int k = 0; k < 2; k++) {
        const char *file = k ? scan_c : scan_a;
        int N = sc[k].N;
        CHECK(recompute(pred, sc[k].key, file, N, &ind[k], NULL) == 0, "recompute %s", sc[k].key);
        CHECK(file_matches(pred, sc[k].key, "test_corr", ind[k].test, N, 1e-5), "%s: single-trial test correlation",
              sc[k].key);
        CHECK(file_matches(pred, sc[k].key, "test_corr_avg", ind[k].avg, N, 1e-5), "%s: repeat-average correlation",
              sc[k].key);
        CHECK(file_matches(pred, sc[k].key, "oracle", ind[k].oracle, N, 1e-5), "%s: leave-one-out oracle", sc[k].key);
        CHECK(file_matches(pred, sc[k].key, "feve", ind[k].feve, N, 1e-4), "%s: FEVE", sc[k].key);
        CHECK(file_matches(pred, sc[k].key, "gt_corr", ind[k].gt, N, 1e-5), "%s: correlation with the true rates",
              sc[k].key);
        for (int j = 0; j < N; j++) {
            so += ind[k].oracle[j] * ind[k].oracle[j];
            soc += ind[k].oracle[j] * ind[k].test[j];
        }
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM neuron_metrics WHERE scan='%s'", sc[k].key);
        CHECK(tc_sql(db, sql, buf, sizeof buf) && atoi(buf) == N, "%s: %d neuron rows (%s)", sc[k].key, N, buf);
    }
    CHECK(tc_sql(db, "SELECT value FROM metrics WHERE scan='all' AND split='test' AND name='fraction_oracle'", buf,
                 sizeof buf) && fabs(atof(buf) - soc / so) < 1e-6,
          "pooled fraction oracle = slope through the origin over both scans' neurons: %s vs %.9f", buf, soc / so);
    CHECK(tc_sql(db, "SELECT count(*) FROM metrics WHERE split='model' AND name='rf_dist'", buf, sizeof buf) &&
              atoi(buf) == 3,
          "RF distances per scan and pooled: %s", buf);
    /* SE2d: the readout grid maps onto the image, so the fit-free comparison is there per scan */
    CHECK(tc_sql(db, "SELECT count(*) FROM metrics WHERE split='model' AND name IN ('rf_px_corr_x', 'rf_px_corr_y')"
                     " AND value BETWEEN -1 AND 1 AND scan <> 'all'", buf, sizeof buf) && atoi(buf) == 4,
          "fit-free RF correlations per scan and coordinate: %s", buf);
    CHECK(tc_sql(db, "SELECT count(*) FROM metrics WHERE split='model' AND name = 'rf_px_dist' AND value > 0",
                 buf, sizeof buf) && atoi(buf) == 2, "fit-free RF distances per scan: %s", buf);
    /* the ceiling from cortical coordinates bounds what a cortex-predicted position reaches */
    CHECK(tc_sql(db, "SELECT count(*) FROM metrics c JOIN metrics f ON f.run_id = c.run_id AND f.scan = c.scan"
                     " AND f.split = 'model' AND f.name = 'rf_corr_x' WHERE c.split = 'model'"
                     " AND c.name = 'rf_ceiling_corr_x' AND c.value BETWEEN -1 AND 1", buf, sizeof buf) &&
              atoi(buf) == 2,
          "RF ceiling per scan: %s", buf);
    CHECK(tc_sql(db, "SELECT status FROM runs", buf, sizeof buf) && strcmp(buf, "done") == 0, "run done");
}

static void test_neuron_subset(void)
{
    const char *data[] = {scan_a};
    const char *extra[] = {"data.neuron_n=10", "data.neuron_base_seed=3"};
    char dir[4200], pred[4400], db[4400], buf[256];
    struct nsid_eval_outcome out;
    CHECK(train_eval("subset", extra, 2, data, 1, dir, sizeof dir, &out) == 0, "train + eval on 10 neurons");
    snprintf(pred, sizeof pred, "%s/pred.h5", dir);
    snprintf(db, sizeof db, "%s/run.db", dir);
    size_t n = 0;
    float *p = tc_h5_floats(pred, "10001-1-1-0/predictions", &n);
    CHECK(p && n == 40 * 10, "predictions of the 10 selected neurons: %zu", n);
    free(p);
    float *u = tc_h5_floats(pred, "10001-1-1-0/unit_ids", &n);
    int64_t sel[10];
    for (size_t j = 0; u && j < n && j < 10; j++) sel[j] = (int64_t)u[j] - 1000; /* unit id = 1000 + index */
    static struct indep ind;
    CHECK(u && n == 10 && recompute(pred, "10001-1-1-0", scan_a, 10, &ind, sel) == 0, "recompute the subset");
    CHECK(file_matches(pred, "10001-1-1-0", "gt_corr", ind.gt, 10, 1e-5),
          "true rates are taken for the selected neurons");
    free(u);
    CHECK(tc_sql(db, "SELECT count(*) FROM neuron_metrics", buf, sizeof buf) && atoi(buf) == 10, "10 neuron rows");
}

/* Predict the test tier once per image and for every trial: the worst relative difference of the
 * predictions, and whether the responses (targets) are the same; -1 if a count is off. */
static double once_vs_every(struct nsid_evaluator *ev, struct nsid_model *net, int64_t T, size_t N, bool *same_resp)
{
    float *once = malloc((size_t)T * N * sizeof(float)), *resp = malloc((size_t)T * N * sizeof(float));
    double worst = -1;
    ev->every_trial = false;
    if (once && resp && nsid_eval_predict_tier(ev, net, 0, NSID_TIER_TEST) == T) {
        memcpy(once, ev->pred, (size_t)T * N * sizeof(float));
        memcpy(resp, ev->target, (size_t)T * N * sizeof(float));
        ev->every_trial = true;
        if (nsid_eval_predict_tier(ev, net, 0, NSID_TIER_TEST) == T) {
            worst = 0;
            for (size_t i = 0; i < (size_t)T * N; i++) {
                double e = fabs((double)once[i] - (double)ev->pred[i]) / (1.0 + fabs((double)ev->pred[i]));
                if (e > worst) worst = e;
            }
            *same_resp = memcmp(resp, ev->target, (size_t)T * N * sizeof(float)) == 0;
        }
    }
    ev->every_trial = false;
    free(once);
    free(resp);
    return worst;
}

/* Repeats of a test image share one prediction: predicted once per image, the test tier gets the
 * predictions that predicting every trial gives, and the same responses. A repeat whose pixels
 * differ (one frame_image_id, two images) gets its own prediction and stays in its repeat group. */
static void test_repeats_once(void)
{
    const char *data[] = {scan_a};
    char dir[4200], ck[4400];
    struct nsid_eval_outcome out;
    CHECK(train_eval("once", NULL, 0, data, 1, dir, sizeof dir, &out) == 0, "train + eval on one scan");
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", dir);
    struct nsid_config c;
    struct nsid_err err = {0};
    struct nsid_run_data d = {0};
    struct nsid_model net = {0};
    struct nsid_evaluator ev = {0};
    int rc = nsid_train_read_config(ck, &c, &err);
    if (rc == 0) rc = nsid_rundata_load(&d, &c, data, 1, &err);
    if (rc == 0) rc = nsid_net_init(&net, &c, d.mscans, d.n_scans, NULL, &err);
    if (rc == 0) rc = nsid_model_load(&net, ck, NULL, &err);
    if (rc == 0) rc = nsid_model_alloc_state(&net, 16, &err);
    if (rc == 0) rc = nsid_evaluator_init(&ev, d.views, 1, 16, &err);
    if (rc < 0) nsid_err_print(&err, stderr);
    CHECK(rc == 0, "the trained network and its evaluator");
    if (rc < 0) goto out;
    const int64_t T = 40;
    const size_t N = 24;
    CHECK(ev.test_n_unique[0] == 8 && ev.test_n_groups[0] == 8,
          "8 distinct test images among 40 test trials: %lld predicted, %lld groups", (long long)ev.test_n_unique[0],
          (long long)ev.test_n_groups[0]);
    bool same = false;
    double worst = once_vs_every(&ev, &net, T, N, &same);
    CHECK(worst >= 0 && worst <= 1e-6, "the predictions agree with predicting every trial (worst relative difference %.2g)",
          worst);
    CHECK(same, "and the responses are the same");
    /* the last test trial (a repeat) gets other pixels under the same id */
    nsid_evaluator_free(&ev);
    const struct nsid_scan *sc = d.views[0].scan;
    size_t P = (size_t)sc->channels * (size_t)sc->height * (size_t)sc->width;
    int64_t last = d.views[0].tier[NSID_TIER_TEST][T - 1];
    d.scans[0].images[(size_t)last * P + P / 2] += 40.0f;
    rc = nsid_evaluator_init(&ev, d.views, 1, 16, &err);
    CHECK(rc == 0 && ev.test_n_unique[0] == 9 && ev.test_n_groups[0] == 8 && ev.test_first[0][T - 1] == T - 1,
          "a repeat with other pixels is predicted on its own (%lld predicted) and keeps its group (%lld groups)",
          (long long)ev.test_n_unique[0], (long long)ev.test_n_groups[0]);
    if (rc == 0) {
        same = false;
        worst = once_vs_every(&ev, &net, T, N, &same);
        CHECK(worst >= 0 && worst <= 1e-6 && same, "and the predictions still agree (worst %.2g)", worst);
    }
out:
    nsid_evaluator_free(&ev);
    nsid_model_free(&net);
    nsid_rundata_free(&d);
}

int main(void)
{
    dt_tmpdir(tmp, sizeof tmp, "eval");
    struct tt_scan o;
    tt_default(&o);
    snprintf(scan_a, sizeof scan_a, "%s/static10001-1-1-preproc0.h5", tmp);
    snprintf(scan_c, sizeof scan_c, "%s/static10001-1-2-preproc0.h5", tmp);
    int rc = tt_make_scan(scan_a, &o);
    o.seed = 3;
    o.n_train = 96;
    o.N = 20;
    rc |= tt_make_scan(scan_c, &o);
    CHECK(rc == 0, "synthetic scans written");
    test_two_scans();
    test_neuron_subset();
    test_repeats_once();
    int status = check_summary("eval");
    if (status == 0) dt_rmtree(tmp);
    return status;
}
