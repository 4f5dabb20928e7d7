/*
 * sim_neuron.c - animals (retinotopic maps) and neurons (the truth of each
 * simulated cell), their calibration and the response noise.
 *
 * A neuron's expected number of events on a trial is
 *
 *     drive = sum_k w_k F_k(rf + eye shift)          (bank channels, bilinear)
 *     u     = (drive - drive_mean) / drive_std       (over calibration images)
 *     q     = softplus(slope * (u - threshold)) / shape_mean
 *     rate  = mean_rate * (baseline + (1 - baseline) * q) [* behaviour gain]
 *
 * and the recorded response is amplitude * Gamma(k * a) / a with
 * k ~ Poisson(rate * G), G ~ Gamma(kappa) / kappa: overdispersed, non-negative,
 * exactly zero when no event happens. mean_rate is solved so that the
 * leave-one-out oracle correlation over `repeats` repeats equals the neuron's
 * target: with signal variance S and mean noise variance Nv,
 * SNR = S / Nv and oracle = SNR / sqrt((SNR + 1) (SNR + 1 / (R - 1))).
 */
#include "sim_int.h"

#include <math.h>
#include <string.h>

/* Probability of each preferred scale (fine, middle, coarse). */
static const double SCALE_PROB[NSID_SIM_SCALES] = {0.3, 0.45, 0.25};

/* ---- animals ----------------------------------------------------------------- */

void nsid__sim_animal_draw(struct nsid__sim_animal *a, const struct nsid_sim_config *cfg,
                           int64_t animal_id)
{
    struct nsid_rng r;
    nsid_rng_init(&r, cfg->seed, nsid__sim_stream(NSID__SIM_P_ANIMAL, (uint64_t)animal_id, 0));
    memset(a, 0, sizeof *a);
    a->id = animal_id;
    a->cortex_center[0] = nsid_rng_uniform_range(&r, -2500.0, 2500.0);
    a->cortex_center[1] = nsid_rng_uniform_range(&r, -2500.0, 2500.0);
    a->cortex_center[2] = nsid_rng_uniform_range(&r, 220.0, 320.0);
    a->cortex_half = cfg->cortex_half_um;
    a->scatter_px = cfg->rf_scatter_px;
    /* A = R(p1) diag(s1, s2) R(p2) [mirror]: about 1 px (1.9 deg) per 25-45 µm. */
    double p1 = nsid_rng_uniform_range(&r, 0.0, 2.0 * M_PI);
    double p2 = nsid_rng_uniform_range(&r, 0.0, 2.0 * M_PI);
    double s1 = nsid_rng_uniform_range(&r, 0.022, 0.04);
    double s2 = nsid_rng_uniform_range(&r, 0.022, 0.04);
    double mirror = nsid_rng_uniform(&r) < 0.5 ? -1.0 : 1.0;
    double c1 = cos(p1), n1 = sin(p1), c2 = cos(p2), n2 = sin(p2);
    double m[2][2] = {{c1 * s1, -n1 * s2}, {n1 * s1, c1 * s2}};      /* R(p1) diag(s) */
    double rot[2][2] = {{c2, -n2 * mirror}, {n2, c2 * mirror}};      /* R(p2) diag(1, mirror) */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) a->A[i][j] = m[i][0] * rot[0][j] + m[i][1] * rot[1][j];
    /* The field's centre maps near the centre of the screen area RFs may use. */
    double cx = 0.5 * (cfg->width - 1) + nsid_rng_uniform_range(&r, -3.0, 3.0);
    double cy = 0.5 * (cfg->height - 1) + nsid_rng_uniform_range(&r, -1.5, 1.5);
    a->b[0] = cx - (a->A[0][0] * a->cortex_center[0] + a->A[0][1] * a->cortex_center[1]);
    a->b[1] = cy - (a->A[1][0] * a->cortex_center[0] + a->A[1][1] * a->cortex_center[1]);
}

/* ---- neurons: position -------------------------------------------------------- */

/* Is (x, y) px inside the area where the paper's core has outputs, minus the margin? */
static int rf_inside(const struct nsid_sim_config *cfg, double x, double y)
{
    double m = 7.0 + cfg->rf_margin_px;
    return x >= m && x <= cfg->width - 8.0 - cfg->rf_margin_px && y >= m &&
           y <= cfg->height - 8.0 - cfg->rf_margin_px;
}

/* Cortical position and RF centre: uniform on the field, kept if the RF is on screen. */
static void draw_position(struct nsid__sim_neuron *n, const struct nsid_sim_config *cfg,
                          const struct nsid__sim_animal *a, struct nsid_rng *r)
{
    for (int tries = 0;; tries++) {
        double px = a->cortex_center[0] + nsid_rng_uniform_range(r, -a->cortex_half, a->cortex_half);
        double py = a->cortex_center[1] + nsid_rng_uniform_range(r, -a->cortex_half, a->cortex_half);
        double x = a->A[0][0] * px + a->A[0][1] * py + a->b[0] + a->scatter_px * nsid_rng_normal(r);
        double y = a->A[1][0] * px + a->A[1][1] * py + a->b[1] + a->scatter_px * nsid_rng_normal(r);
        if (rf_inside(cfg, x, y) || tries > 100000) {
            /* (A map that misses the allowed area entirely, e.g. a huge margin: clamp into it.) */
            double m = 7.0 + cfg->rf_margin_px;
            n->cortex[0] = px;
            n->cortex[1] = py;
            n->rf[0] = fmin(fmax(x, m), cfg->width - 8.0 - cfg->rf_margin_px);
            n->rf[1] = fmin(fmax(y, m), cfg->height - 8.0 - cfg->rf_margin_px);
            break;
        }
    }
    n->cortex[2] = a->cortex_center[2] + nsid_rng_uniform_range(r, -40.0, 40.0);
}

/* ---- neurons: feature weights ---------------------------------------------------- */

/* An index 0..n-1 drawn with probabilities proportional to p. */
static int draw_category(const double *p, int n, struct nsid_rng *r)
{
    double total = 0;
    for (int i = 0; i < n; i++) total += p[i];
    double u = nsid_rng_uniform(r) * total;
    for (int i = 0; i < n; i++) {
        if (u < p[i]) return i;
        u -= p[i];
    }
    return n - 1;
}

/* Beta(a, a) from two gammas. */
static double draw_beta(struct nsid_rng *r, double a)
{
    double x = nsid_rng_gamma(r, a), y = nsid_rng_gamma(r, a);
    return x / (x + y);
}

/* Weight of each orientation channel for a von Mises tuning of period 180/periods deg. */
static void orientation_tuning(double *t, int count, double pref_rad, double kappa, int periods)
{
    for (int o = 0; o < count; o++) {
        double th = M_PI * o / NSID_SIM_ORIENTATIONS;
        t[o] = exp(kappa * (cos(2.0 * periods * (th - pref_rad)) - 1.0));
    }
}

/* Prototype weights of the neuron's cell type, in dense form (w has NSID_SIM_CHANNELS). */
static void prototype(double *w, const struct nsid__sim_neuron *n, const double *sw,
                      struct nsid_rng *r)
{
    double t[NSID_SIM_ORIENTATIONS], ph[4];
    double pref = n->ori_deg * M_PI / 180.0, kappa = nsid_rng_uniform_range(r, 1.0, 4.0);
    orientation_tuning(t, NSID_SIM_ORIENTATIONS, pref, kappa, 1);
    for (int p = 0; p < 4; p++) {
        double c = cos(p * M_PI / 2.0 - n->phase_deg * M_PI / 180.0);
        ph[p] = c > 0 ? c * c : 0.0;
    }
    double mix = nsid_rng_uniform_range(r, 0.0, 0.3);
    for (int s = 0; s < NSID_SIM_SCALES; s++) {
        double *ws = w + s * NSID_SIM_CH_PER_SCALE;
        if (sw[s] == 0.0) continue;
        for (int o = 0; o < NSID_SIM_ORIENTATIONS; o++) {
            double g = sw[s] * t[o];
            switch (n->type) {
            case NSID_SIM_CELL_SIMPLE:
                for (int p = 0; p < 4; p++) ws[NSID_SIM_CH_SIMPLE(o, p)] += g * ph[p];
                ws[NSID_SIM_CH_COMPLEX(o)] += mix * g;
                break;
            case NSID_SIM_CELL_COMPLEX:
                ws[NSID_SIM_CH_COMPLEX(o)] += g;
                for (int p = 0; p < 4; p++) ws[NSID_SIM_CH_SIMPLE(o, p)] += 0.5 * mix * g * ph[p];
                break;
            case NSID_SIM_CELL_SURROUND:
                ws[NSID_SIM_CH_SURROUND(o)] += g;
                ws[NSID_SIM_CH_COMPLEX(o)] += 0.5 * mix * g;
                break;
            case NSID_SIM_CELL_SBC:
                ws[NSID_SIM_CH_COMPLEX(o)] -= sw[s] / NSID_SIM_ORIENTATIONS;
                break;
            default:
                break;
            }
        }
        if (n->type == NSID_SIM_CELL_CROSS) {
            double t4[NSID_SIM_ORIENTATIONS / 2];
            orientation_tuning(t4, NSID_SIM_ORIENTATIONS / 2, pref, kappa, 2);
            for (int o = 0; o < NSID_SIM_ORIENTATIONS / 2; o++) ws[NSID_SIM_CH_CROSS(o)] += sw[s] * t4[o];
        } else if (n->type == NSID_SIM_CELL_ONOFF) {
            int on = n->phase_deg < 180.0;
            ws[on ? NSID_SIM_CH_ON : NSID_SIM_CH_OFF] += sw[s];
            ws[on ? NSID_SIM_CH_OFF : NSID_SIM_CH_ON] -= 0.3 * mix * sw[s];
        } else if (n->type == NSID_SIM_CELL_SBC) {
            ws[NSID_SIM_CH_ON] -= 0.1 * sw[s];
            ws[NSID_SIM_CH_OFF] -= 0.1 * sw[s];
        }
    }
}

/* Individual variation: jitter every weight, add a few random small ones. */
static void individualise(double *w, int scale, struct nsid_rng *r)
{
    double big = 0;
    for (int c = 0; c < NSID_SIM_CHANNELS; c++) {
        if (w[c] != 0.0) w[c] *= exp(0.25 * nsid_rng_normal(r));
        if (fabs(w[c]) > big) big = fabs(w[c]);
    }
    for (int k = 0; k < 3; k++) {
        int s = scale + (int)nsid_rng_below(r, 3) - 1;
        if (s < 0) s = 0;
        if (s >= NSID_SIM_SCALES) s = NSID_SIM_SCALES - 1;
        int c = s * NSID_SIM_CH_PER_SCALE + (int)nsid_rng_below(r, NSID_SIM_CH_PER_SCALE);
        w[c] += 0.15 * big * nsid_rng_normal(r);
    }
}

/* Keep the largest |w| (>= 4 % of the max, at most NSID__SIM_MAXW), scale max |w| to 1, group by scale. */
static void sparsify(struct nsid__sim_neuron *n, const double *w)
{
    double big = 0;
    for (int c = 0; c < NSID_SIM_CHANNELS; c++)
        if (fabs(w[c]) > big) big = fabs(w[c]);
    n->nw = n->ngroups = 0;
    n->gfirst[0] = 0;
    if (big == 0.0) return;
    double cut = 0.04 * big;
    for (;;) {
        int count = 0;
        for (int c = 0; c < NSID_SIM_CHANNELS; c++) count += fabs(w[c]) >= cut;
        if (count <= NSID__SIM_MAXW) break;
        cut *= 1.25;
    }
    for (int c = 0; c < NSID_SIM_CHANNELS; c++) {
        if (fabs(w[c]) < cut) continue;
        int s = c / NSID_SIM_CH_PER_SCALE;
        if (n->ngroups == 0 || n->gscale[n->ngroups - 1] != s) {
            n->gscale[n->ngroups] = s;
            n->gfirst[n->ngroups] = n->nw;
            n->ngroups++;
        }
        n->c[n->nw] = (uint8_t)(c % NSID_SIM_CH_PER_SCALE);
        n->w[n->nw] = (float)(w[c] / big);
        n->nw++;
    }
    n->gfirst[n->ngroups] = n->nw;
}

int nsid__sim_neuron_channel(const struct nsid__sim_neuron *n, int k)
{
    int g = 0;
    while (g + 1 < n->ngroups && k >= n->gfirst[g + 1]) g++;
    return n->gscale[g] * NSID_SIM_CH_PER_SCALE + n->c[k];
}

/* |w|-weighted envelope sd over the scales the neuron reads. */
static double rf_sigma(const struct nsid__sim_neuron *n)
{
    double s = 0, sw = 0;
    for (int g = 0; g < n->ngroups; g++)
        for (int k = n->gfirst[g]; k < n->gfirst[g + 1]; k++) {
            double a = fabs((double)n->w[k]);
            s += a * 1.6 * (double)(1 << n->gscale[g]);
            sw += a;
        }
    return sw > 0 ? s / sw : 0.0;
}

void nsid__sim_neuron_draw(struct nsid__sim_neuron *n, const struct nsid_sim_config *cfg,
                           const struct nsid__sim_animal *a, int64_t pool)
{
    struct nsid_rng r;
    nsid_rng_init(&r, cfg->seed, nsid__sim_stream(NSID__SIM_P_NEURON, (uint64_t)a->id, (uint64_t)pool));
    memset(n, 0, sizeof *n);
    n->pool = pool;
    draw_position(n, cfg, a, &r);
    n->type = draw_category(cfg->type_fraction, NSID_SIM_CELL_COUNT, &r);
    n->ori_deg = nsid_rng_uniform_range(&r, 0.0, 180.0);
    n->phase_deg = nsid_rng_uniform_range(&r, 0.0, 360.0);
    n->scale = draw_category(SCALE_PROB, NSID_SIM_SCALES, &r);
    double sw[NSID_SIM_SCALES] = {0};
    sw[n->scale] = 1.0;
    if (n->scale > 0) sw[n->scale - 1] = nsid_rng_uniform_range(&r, 0.0, 0.35);
    if (n->scale + 1 < NSID_SIM_SCALES) sw[n->scale + 1] = nsid_rng_uniform_range(&r, 0.0, 0.35);
    double w[NSID_SIM_CHANNELS] = {0};
    prototype(w, n, sw, &r);
    individualise(w, n->scale, &r);
    sparsify(n, w);
    n->rf_sigma = rf_sigma(n);
    int sbc = n->type == NSID_SIM_CELL_SBC;
    n->slope = nsid_rng_uniform_range(&r, 1.5, 3.0);
    n->threshold = sbc ? nsid_rng_uniform_range(&r, -0.8, 0.4) : nsid_rng_uniform_range(&r, 0.0, 1.2);
    n->baseline = nsid_rng_uniform_range(&r, 0.02, 0.15);
    n->target_oracle = cfg->oracle_min + (cfg->oracle_max - cfg->oracle_min) * draw_beta(&r, 2.0);
    n->amplitude = exp(0.5 * nsid_rng_normal(&r));
    n->beh_run = cfg->behavior_gain * nsid_rng_normal(&r);
    n->beh_pupil = cfg->behavior_gain * nsid_rng_normal(&r);
}

/* ---- responses ---------------------------------------------------------------------- */

/* Sum of w_k * channel c_k over one scale's group, bilinear at level position (fx, fy). */
static float group_drive(const struct nsid__sim_neuron *n, int g, const struct nsid_sim_bank *bank,
                         const struct nsid_sim_bank_work *work, float fx, float fy)
{
    int s = n->gscale[g], w = bank->w[s], h = bank->h[s];
    int x0 = (int)floorf(fx), y0 = (int)floorf(fy);
    float ax = fx - (float)x0, ay = fy - (float)y0;
    float b[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
    const float *map = work->maps[s];
    const float *p[4];
    for (int t = 0; t < 4; t++) {
        int xx = x0 + (t & 1), yy = y0 + (t >> 1);
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) {
            /* Outside the image the bank is zero (grey screen): weight 0 on a valid pixel. */
            b[t] = 0.0f;
            xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
            yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
        }
        p[t] = map + ((size_t)yy * (size_t)w + (size_t)xx) * NSID_SIM_CH_PER_SCALE;
    }
    float z = 0.0f;
    for (int k = n->gfirst[g]; k < n->gfirst[g + 1]; k++) {
        int c = n->c[k];
        z += n->w[k] * (b[0] * p[0][c] + b[1] * p[1][c] + b[2] * p[2][c] + b[3] * p[3][c]);
    }
    return z;
}

double nsid__sim_neuron_drive(const struct nsid__sim_neuron *n, const struct nsid_sim_bank *bank,
                              const struct nsid_sim_bank_work *work, double x, double y)
{
    float z = 0.0f;
    for (int g = 0; g < n->ngroups; g++) {
        /* Level s pixel i is centred on image position 2^s (i + 0.5) - 0.5. */
        float f = (float)(1 << n->gscale[g]);
        float fx = ((float)x + 0.5f) / f - 0.5f, fy = ((float)y + 0.5f) / f - 0.5f;
        z += group_drive(n, g, bank, work, fx, fy);
    }
    return (double)z;
}

/* log(1 + e^x) without overflow. */
static double softplus(double x)
{
    return x > 30.0 ? x : log1p(exp(x));
}

double nsid__sim_neuron_rate(const struct nsid__sim_neuron *n, double drive)
{
    double u = (drive - n->drive_mean) * n->inv_drive_std;
    double q = softplus(n->slope * (u - n->threshold)) * n->inv_shape_mean;
    return n->mean_rate * (n->baseline + (1.0 - n->baseline) * q);
}

/* The SNR whose leave-one-out oracle correlation over R repeats is rho (bisection). */
static double snr_for_oracle(double rho, int repeats)
{
    double inv = 1.0 / (repeats - 1);
    double lo = 1e-6, hi = 1e4;
    for (int i = 0; i < 200; i++) {
        double mid = sqrt(lo * hi);
        double o = mid / sqrt((mid + 1.0) * (mid + inv));
        if (o < rho) lo = mid;
        else hi = mid;
    }
    return sqrt(lo * hi);
}

void nsid__sim_neuron_calibrate(struct nsid__sim_neuron *n, const struct nsid_sim_config *cfg,
                                const float *drives, int n_calib, int repeats)
{
    double m = 0, v = 0;
    for (int i = 0; i < n_calib; i++) m += (double)drives[i];
    m /= n_calib;
    for (int i = 0; i < n_calib; i++) v += ((double)drives[i] - m) * ((double)drives[i] - m);
    v /= n_calib;
    n->drive_mean = m;
    n->drive_std = v > 1e-20 ? sqrt(v) : 1.0;
    n->inv_drive_std = 1.0 / n->drive_std;
    double sm = 0;
    for (int i = 0; i < n_calib; i++) {
        double u = ((double)drives[i] - m) / n->drive_std;
        sm += softplus(n->slope * (u - n->threshold));
    }
    n->shape_mean = sm > 0 ? sm / n_calib : 1.0;
    n->inv_shape_mean = 1.0 / n->shape_mean;
    /* Variance over images of the rate shape (mean 1 by construction). */
    n->mean_rate = 1.0;
    double s1 = 0, s2 = 0;
    for (int i = 0; i < n_calib; i++) {
        double q = nsid__sim_neuron_rate(n, (double)drives[i]);
        s1 += q;
        s2 += q * q;
    }
    s1 /= n_calib;
    double shape_var = s2 / n_calib - s1 * s1;
    n->shape_var = shape_var > 0 ? shape_var : 0.0;
    /*
     * SNR = m v / ((1 + 1/a) + m (1 + v) / kappa) for mean rate m, so
     * m = SNR (1 + 1/a) / (v - SNR (1 + v) / kappa). Overdispersion caps the
     * reachable SNR at kappa v / (1 + v); aim at most for 90 % of it.
     */
    double kappa = cfg->overdispersion, a = cfg->amplitude_shape, vs = n->shape_var;
    double snr = snr_for_oracle(n->target_oracle, repeats);
    double cap = 0.9 * kappa * vs / (1.0 + vs);
    if (snr > cap) snr = cap;
    double den = vs - snr * (1.0 + vs) / kappa;
    double rate = den > 0 ? snr * (1.0 + 1.0 / a) / den : 200.0;
    n->mean_rate = rate < 0.02 ? 0.02 : rate > 200.0 ? 200.0 : rate;
}

double nsid__sim_noise_draw(struct nsid_rng *r, double rate, double amplitude,
                            double overdispersion, double amplitude_shape)
{
    if (!(rate > 0.0)) return 0.0;
    double kappa = overdispersion;
    uint64_t k = 0;
    if (rate <= 50.0) {
        /*
         * k ~ Poisson(rate * Gamma(kappa) / kappa) is negative binomial with
         * mean rate and shape kappa: invert its CDF with one uniform, P(0) =
         * (kappa / (kappa + rate))^kappa, P(k+1) = P(k) (k + kappa) / (k + 1) p.
         */
        double p = rate / (kappa + rate);
        double pk = exp(-kappa * log1p(rate / kappa)), cdf = pk, u = nsid_rng_uniform(r);
        while (u >= cdf && k < 100000) {
            pk *= ((double)k + kappa) / ((double)k + 1.0) * p;
            k++;
            cdf += pk;
            if (pk < 1e-300) break; /* u beyond the rounding of the CDF: stop in the far tail */
        }
    } else {
        double g = nsid_rng_gamma(r, kappa) / kappa;
        k = nsid_rng_poisson(r, rate * g);
    }
    if (k == 0) return 0.0;
    return amplitude * nsid_rng_gamma(r, (double)k * amplitude_shape) / amplitude_shape;
}
