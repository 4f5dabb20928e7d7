#!/usr/bin/python3
"""PyTorch reference of nsid-bench's cases (issue 8), for scripts/bench-vs-torch.sh.

The paper's model written directly in PyTorch (neuralpredictors' SE2dCore and
FullGaussian2d with the grid-mean predictor, as nsid implements them): a 15x15
conv and three depth-separable 13x13 layers of 64 channels, each followed by
BatchNorm (momentum 0.9) and ELU; a Gaussian readout whose means come from an
affine map of cortical coordinates; output ELU + 1, Poisson loss with the
paper's scale and regularisers, Adam (lr 5e-3). Batch 64 of 1x36x64 images,
deterministic synthetic data in memory, warm-up then a median over timed steps.

    /usr/bin/python3 scripts/bench_torch.py --case train-1000 [--threads N] [--steps S] [--warmup W]

prints one line: torch CASE images_per_s=X peak_rss_mib=Y threads=T
(run one case per process so that the peak RSS is the case's own).
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

B, H, W, C = 64, 36, 64, 64
CASES = {"train-1000": ("train", 1000), "train-8000": ("train", 8000), "transfer-1000": ("transfer", 1000),
         "eval-1000": ("eval", 1000), "eval-8000": ("eval", 8000)}


class Core(nn.Module):
    """SE2dCore: conv 15x15 -> BN -> ELU, then 3 x (1x1 -> depthwise 13x13 -> 1x1 -> BN -> ELU)."""

    def __init__(self):
        super().__init__()
        layers = [nn.Conv2d(1, C, 15, bias=False), nn.BatchNorm2d(C, momentum=0.9), nn.ELU()]
        for _ in range(3):
            layers += [nn.Conv2d(C, C, 1, bias=False), nn.Conv2d(C, C, 13, padding=6, groups=C, bias=False),
                       nn.Conv2d(C, C, 1, bias=False), nn.BatchNorm2d(C, momentum=0.9), nn.ELU()]
        self.features = nn.Sequential(*layers)
        lap = torch.tensor([[0., -1., 0.], [-1., 4., -1.], [0., -1., 0.]]).view(1, 1, 3, 3)
        self.register_buffer("laplace", lap)

    def forward(self, x):
        return self.features(x)

    def regularizer(self):
        w = self.features[0].weight  # (64, 1, 15, 15)
        lw = F.conv2d(w.view(-1, 1, 15, 15), self.laplace, padding=1)
        return lw.pow(2).sum() / w.pow(2).sum()


class GaussianReadout(nn.Module):
    """FullGaussian2d with an affine grid-mean predictor from cortical x, y."""

    def __init__(self, n, coords):
        super().__init__()
        self.n = n
        self.register_buffer("source_grid", coords)
        self.mu_transform = nn.Linear(2, 2)
        self.sigma = nn.Parameter(torch.empty(1, n, 2, 2).uniform_(-0.4, 0.4))
        self.features = nn.Parameter(torch.randn(1, C, 1, n) * 1e-3)
        self.bias = nn.Parameter(torch.zeros(n))

    def forward(self, x):
        b = x.shape[0]
        mu = self.mu_transform(self.source_grid).view(1, self.n, 1, 2)
        if self.training:
            z = torch.randn(b, self.n, 1, 2, device=x.device)
            grid = torch.clamp(torch.einsum("ancd,bnid->bnic", self.sigma, z) + mu, -1, 1)
        else:
            grid = torch.clamp(mu, -1, 1).expand(b, self.n, 1, 2)
        y = F.grid_sample(x, grid, align_corners=True)  # (b, C, n, 1)
        y = (y.squeeze(-1) * self.features.view(1, C, self.n)).sum(1)
        return y + self.bias

    def regularizer(self):
        return self.features.abs().sum()


class Model(nn.Module):
    def __init__(self, n):
        super().__init__()
        g = torch.Generator().manual_seed(7)
        coords = torch.rand(n, 2, generator=g) * 2 - 1
        self.core = Core()
        self.readout = GaussianReadout(n, coords)

    def forward(self, x):
        return F.elu(self.readout(self.core(x))) + 1


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", required=True, choices=sorted(CASES))
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: env NSID_THREADS or all CPUs)")
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    threads = a.threads or int(os.environ.get("NSID_THREADS", "0")) or os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    kind, n = CASES[a.case]
    model = Model(n)
    gen = torch.Generator().manual_seed(2021)
    data = [(torch.randn(B, 1, H, W, generator=gen), torch.poisson(torch.rand(B, n, generator=gen) * 0.6 + 0.4))
            for _ in range(4)]
    scale = (5000 / B) ** 0.5
    if kind == "transfer":
        for p in model.core.parameters():
            p.requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=5e-3)

    def step(i):
        x, r = data[i % len(data)]
        if kind == "eval":
            model.eval()
            with torch.no_grad():
                model(x)
            return
        model.train()
        opt.zero_grad()
        out = model(x)
        loss = scale * (out - r * torch.log(out + 1e-12)).sum() + model.readout.regularizer()
        if kind == "train":
            loss = loss + model.core.regularizer()
        loss.backward()
        opt.step()

    for i in range(a.warmup):
        step(i)
    times = []
    for i in range(a.steps):
        t0 = time.perf_counter()
        step(a.warmup + i)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"torch {a.case} images_per_s={B / med:.2f} peak_rss_mib={peak_rss_mib():.1f} threads={threads}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
