/*
 * sim_int.h - internals shared by the simulator's files (simulate.c,
 * sim_config.c, sim_stimulus.c, sim_bank.c, sim_neuron.c, sim_stream.c).
 * Not a public header: other modules use simulate.h.
 *
 * Random streams: every unit of work (one image, one neuron, one trial's
 * noise) draws from its own stream nsid_rng_init(seed, nsid__sim_stream(...)),
 * so results never depend on the thread count or on the order of work.
 */
#ifndef NSID_SIM_INT_H
#define NSID_SIM_INT_H

#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "base/rng.h"
#include "data/simulate.h"

/* ---- the shared feature bank (sim_bank.c; its channels are what neurons read) ---------- */

#define NSID_SIM_SCALES 3
#define NSID_SIM_ORIENTATIONS 8
#define NSID_SIM_CH_PER_SCALE 54 /* 32 simple + 8 complex + 8 surround + 4 cross + ON + OFF */
#define NSID_SIM_CHANNELS (NSID_SIM_SCALES * NSID_SIM_CH_PER_SCALE)
#define NSID_SIM_TAPS 11         /* Gabor taps per axis (sd 1.6 px, wavelength 4 px per scale) */
#define NSID_SIM_HALO 8          /* zero border of the padded planes, >= NSID_SIM_TAPS / 2 */

/* Channel index within a scale. */
#define NSID_SIM_CH_SIMPLE(o, p) ((o) * 4 + (p)) /* p: 0 even+, 1 odd+, 2 even-, 3 odd- */
#define NSID_SIM_CH_COMPLEX(o) (32 + (o))
#define NSID_SIM_CH_SURROUND(o) (40 + (o))
#define NSID_SIM_CH_CROSS(o) (48 + (o))        /* o in 0..3: orientation o times o+4 */
#define NSID_SIM_CH_ON 52
#define NSID_SIM_CH_OFF 53

struct nsid_sim_bank {
    int height, width;                      /* image size, px */
    int h[NSID_SIM_SCALES], w[NSID_SIM_SCALES]; /* plane size per scale (image / 2^s) */
    int stride[NSID_SIM_SCALES];            /* floats per padded plane row (w + 2 HALO) */
    size_t plane_floats[NSID_SIM_SCALES];   /* floats per padded plane */
    float gabor_c[NSID_SIM_ORIENTATIONS][2][NSID_SIM_TAPS]; /* env*cos(k.u) per axis (0 x, 1 y) */
    float gabor_s[NSID_SIM_ORIENTATIONS][2][NSID_SIM_TAPS]; /* env*sin(k.u) per axis */
    float env[NSID_SIM_TAPS];               /* Gaussian envelope (for the DC correction) */
    float dc[NSID_SIM_ORIENTATIONS];        /* Morlet DC term exp(-sigma^2 k^2 / 2) */
    float norm_even[NSID_SIM_ORIENTATIONS]; /* scale making the even filter unit-L2 */
    float norm_odd[NSID_SIM_ORIENTATIONS];  /* same for the odd filter */
    float semi_sat[NSID_SIM_SCALES];        /* normalisation constant per scale */
    float surround_gain[NSID_SIM_SCALES];   /* surround suppression strength */
    float sigma_px[NSID_SIM_SCALES];        /* Gabor envelope sd in image px */
    float dog_norm;                         /* scale making the ON/OFF centre-surround unit-L2 */
};

/* Padded planes of one scale (HALO zero rows/columns around h x w). */
enum nsid_sim_plane {
    NSID_SIM_PL_PYR,   /* image pyramid level, contrast units */
    NSID_SIM_PL_HR,    /* horizontal Gabor pass, real */
    NSID_SIM_PL_HI,    /* horizontal Gabor pass, imaginary */
    NSID_SIM_PL_ENV,   /* envelope-blurred level (DC correction) */
    NSID_SIM_PL_POOL,  /* normalisation pool */
    NSID_SIM_PL_A,     /* temporaries */
    NSID_SIM_PL_B,
    NSID_SIM_PL_C,
    NSID_SIM_PL_COUNT,
};

/* Per-thread buffers and the output maps of one image. */
struct nsid_sim_bank_work {
    float *maps[NSID_SIM_SCALES];  /* (h_s, w_s, NSID_SIM_CH_PER_SCALE), channel last */
    float *plane[NSID_SIM_SCALES][NSID_SIM_PL_COUNT]; /* padded planes, pointing at (0, 0) */
    float *er, *ei;                /* (ORIENTATIONS, h_0, w_0) quadrature responses of one scale */
    float *block;                  /* owns every buffer above */
};

/* Set up the bank for height x width images (height % 4 == 0, width % 32 == 0). */
int nsid_sim_bank_init(struct nsid_sim_bank *b, int height, int width, struct nsid_err *err);

/* Allocate one thread's buffers; _free(NULL-ed work) is a no-op. */
int nsid_sim_bank_work_init(struct nsid_sim_bank_work *w, const struct nsid_sim_bank *b,
                            struct nsid_err *err);
void nsid_sim_bank_work_free(struct nsid_sim_bank_work *w);

/* Compute every channel of one image (height x width, 0..255) into w->maps. */
void nsid_sim_bank_forward(struct nsid_sim_bank_work *w, const struct nsid_sim_bank *b,
                           const float *image);

/*
 * Channel ch (0..NSID_SIM_CHANNELS-1) at image position (x, y) px, bilinear
 * on the channel's scale (zero outside the image).
 */
double nsid_sim_bank_read(const struct nsid_sim_bank *b, const struct nsid_sim_bank_work *w,
                          int ch, double x, double y);

/* Name of channel ch, e.g. "s1_simple_o45_odd+" or "s2_surround_o90". */
void nsid_sim_bank_channel_name(int ch, char *buf, size_t n);

/* ---- random streams ------------------------------------------------------ */

/* What a stream is used for (the top byte of its id). */
enum nsid__sim_purpose {
    NSID__SIM_P_IMAGE = 1,     /* a = image set, b = image key (tier, index) */
    NSID__SIM_P_CALIB = 2,     /* a = 0, b = calibration image index */
    NSID__SIM_P_ANIMAL = 3,    /* a = animal id: retinotopic map */
    NSID__SIM_P_NEURON = 4,    /* a = animal id, b = pool index: the neuron's truth */
    NSID__SIM_P_ORDER = 5,     /* a = scan: trial order, neuron order */
    NSID__SIM_P_NOISE = 6,     /* a = scan, b = trial: response noise */
    NSID__SIM_P_BEHAVIOR = 7,  /* a = scan: behaviour and pupil traces */
    NSID__SIM_P_JITTER = 8,    /* a = scan, b = pool index: motor-coordinate jitter */
};

/* A stream id from (purpose, a, b): distinct inputs give unrelated ids (sim_stream.c). */
uint64_t nsid__sim_stream(uint64_t purpose, uint64_t a, uint64_t b);

/* ---- configuration ----------------------------------------------------------- */

/* Write every key and its value as a JSON object (the echo of the configuration). */
void nsid__sim_config_json(const struct nsid_sim_config *cfg, FILE *f, const char *indent);

/* ---- stimuli ----------------------------------------------------------------- */

/* Image keys inside an image set: tier * NSID__SIM_TIER_STRIDE + index. */
#define NSID__SIM_TIER_STRIDE 100000
#define NSID__SIM_SET_STRIDE 1000000

/* ---- neurons ----------------------------------------------------------------- */

#define NSID__SIM_MAXW 48 /* nonzero feature weights kept per neuron */

/* One animal's retinotopic map: rf_px = A * cortex_um[0:2] + b (+ scatter). */
struct nsid__sim_animal {
    int64_t id;                /* animal id (e.g. 22564) */
    double A[2][2];            /* px per µm */
    double b[2];               /* px */
    double cortex_center[3];   /* µm, centre of the imaged field (x, y, depth) */
    double cortex_half;        /* µm, half side of the square field neurons are drawn from */
    double scatter_px;         /* sd of the RF scatter around the map, px */
};

/* Everything that defines one neuron's noise-free response (its truth). */
struct nsid__sim_neuron {
    /* the readout, first for cache locality: weights grouped by scale */
    double rf[2];              /* RF centre, image px (x, y) */
    int nw;                    /* number of nonzero weights */
    int ngroups;               /* scales read (weights are sorted by channel) */
    int gscale[NSID_SIM_SCALES]; /* scale of each group */
    int gfirst[NSID_SIM_SCALES + 1]; /* first weight of each group, gfirst[ngroups] = nw */
    uint8_t c[NSID__SIM_MAXW]; /* channel within the scale */
    float w[NSID__SIM_MAXW];   /* weight, max |w| = 1 */
    /* the output nonlinearity and noise */
    double drive_mean, inv_drive_std; /* standardisation of the drive (calibration) */
    double slope, threshold;   /* softplus(slope * (u - threshold)) */
    double inv_shape_mean;     /* 1 / mean of that softplus over calibration images */
    double baseline;           /* fraction of the mean rate that is untuned */
    double mean_rate;          /* events per trial, solved from target_oracle */
    double amplitude;          /* response units per event */
    double beh_run, beh_pupil; /* gain modulation per sd of running / pupil (if enabled) */
    /* description */
    int64_t pool;              /* index in the animal's neuron pool */
    double cortex[3];          /* true cortical position, µm (x, y, depth) */
    double rf_sigma;           /* RF envelope sd, px (|w|-weighted over scales) */
    int type;                  /* enum nsid_sim_cell_type */
    double ori_deg;            /* preferred orientation (carrier direction), deg in [0, 180) */
    double phase_deg;          /* preferred phase (simple cells), deg */
    int scale;                 /* preferred scale 0..2 */
    double target_oracle;      /* oracle correlation the noise was tuned for */
    double drive_std;          /* sd of the drive over calibration images */
    double shape_mean;         /* mean of the softplus over calibration images */
    double shape_var;          /* var of (baseline + (1-baseline) q) over calibration images */
};

/* Global channel index (0..NSID_SIM_CHANNELS-1) of weight k. */
int nsid__sim_neuron_channel(const struct nsid__sim_neuron *n, int k);

/* Draw an animal's map from (seed, animal id). */
void nsid__sim_animal_draw(struct nsid__sim_animal *a, const struct nsid_sim_config *cfg,
                           int64_t animal_id);

/* Draw pool neuron `pool` of animal a (its truth, except calibration). */
void nsid__sim_neuron_draw(struct nsid__sim_neuron *n, const struct nsid_sim_config *cfg,
                           const struct nsid__sim_animal *a, int64_t pool);

/* The linear drive sum_k w_k F_k(x, y) read bilinearly from the bank maps. */
double nsid__sim_neuron_drive(const struct nsid__sim_neuron *n, const struct nsid_sim_bank *bank,
                              const struct nsid_sim_bank_work *work, double x, double y);

/* Expected events per trial from a drive and a gain factor (1 without behaviour). */
double nsid__sim_neuron_rate(const struct nsid__sim_neuron *n, double drive);

/*
 * Finish calibration: from the drives on the calibration images set
 * drive_mean/std, shape_mean/var and mean_rate (tuned for target_oracle with
 * `repeats` test repeats and the configured noise). drives is (n_calib).
 */
void nsid__sim_neuron_calibrate(struct nsid__sim_neuron *n, const struct nsid_sim_config *cfg,
                                const float *drives, int n_calib, int repeats);

/* One noisy response with mean amplitude * rate (gamma-Poisson events, gamma amplitudes). */
double nsid__sim_noise_draw(struct nsid_rng *r, double rate, double amplitude,
                            double overdispersion, double amplitude_shape);

#endif
