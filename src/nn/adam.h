/*
 * adam.h - Adam with torch.optim.Adam's update (torch 1.13, amsgrad=False,
 * weight_decay=0, maximize=False), over a flat float range.
 *
 * Step t (1-based, the count after this step), per element, float32 except where noted:
 *     m = fma(1-b1, g, m*b1)            exp_avg.mul_(b1).add_(g, alpha=1-b1)
 *     v = fma((1-b2)*g, g, v*b2)        exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2)
 *     bc1 = 1 - b1^t, bc2 = 1 - b2^t, step_size = lr/bc1, bc2_sqrt = sqrt(bc2)  (double)
 *     denom = sqrt(v) / (float)bc2_sqrt + (float)eps
 *     p = p + ((float)(-step_size) * m) / denom
 * The fused multiply-adds mirror PyTorch's vectorised CPU kernels on AVX2 machines
 * (Vectorized<float>::fmadd); with them the result is bit-identical to torch 1.13 there
 * (checked on 5 steps x 100,000 elements of random magnitudes 1e-6..1e2). fmaf is
 * correctly rounded everywhere, so nsid's result does not depend on the machine.
 *
 * Because the step works on a flat range of the parameter table's w/g/m/v blocks
 * (same layout), freezing the core is skipping its range [0, core_end):
 *
 *     ps->adam_t++;
 *     nsid_adam_step(ps->w + lo, ps->m + lo, ps->v + lo, ps->g + lo, hi - lo, ps->adam_t, &cfg);
 *
 * PyTorch keeps one step count per parameter; one count per table is the same as
 * long as a range is either always or never stepped (true for a frozen core).
 */
#ifndef NSID_ADAM_H
#define NSID_ADAM_H

#include <stddef.h>
#include <stdint.h>

struct nsid_adam_config {
    double lr;    /* learning rate (paper 5e-3; changed by the LR schedule) */
    double beta1; /* first-moment decay, 0.9 */
    double beta2; /* second-moment decay, 0.999 */
    double eps;   /* denominator epsilon, 1e-8 */
};

/* The paper's optimiser: lr 0.005, betas (0.9, 0.999), eps 1e-8. */
void nsid_adam_config_default(struct nsid_adam_config *c);

/*
 * One Adam step on n parameters w (n) with gradients g (n) and moments m, v (n),
 * updated in place; step = number of steps including this one (>= 1).
 */
void nsid_adam_step(float *w, float *m, float *v, const float *g, size_t n, int64_t step,
                    const struct nsid_adam_config *c);

/*
 * The same step on a chosen path (tests): allow 0 = scalar only, 1 = AVX2 at most,
 * 2 = AVX-512 at most (nsid_adam_step), each used only where the CPU has it. All
 * paths give bit-identical results.
 */
void nsid__adam_step_path(float *w, float *m, float *v, const float *g, size_t n, int64_t step,
                          const struct nsid_adam_config *c, int allow);

#endif
