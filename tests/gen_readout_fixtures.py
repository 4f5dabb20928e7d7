#!/usr/bin/python3
"""Reference tensors for the readout tests (run by a developer, not by CI).

Reimplements, in PyTorch, the readouts of neuralpredictors v0.0.3 as nsid
reproduces them (FullGaussian2d, FullSXF, PointPooled2d, the MLP shifter and
modulator), with the same state_dict names, on tiny shapes with fixed inputs
and fixed sampling noise, and writes tests/fixtures/readout_ref.h5:

    <case>/param/[<readout>/]<state_dict name>   parameters before the forward
    <case>/buffer/[<readout>/]<name>             buffers (source_grid, feature_sharing_index)
    <case>/after/[<readout>/]<name>              parameters after the forward (in-place projections)
    <case>/grad/[<readout>/]<name>               gradients of L = sum(dout * y) + regulariser
    <case>/{feat,z,shift,dout,coords,match_ids}  inputs, <case>/{out,reg,dfeat,dshift} results

Usage: /usr/bin/python3 tests/gen_readout_fixtures.py [output.h5]
"""
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

torch.set_default_dtype(torch.float32)
RNG = np.random.default_rng(20210414)
GAMMA = 0.37


def f32(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def unif(lo, hi, *shape):
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def T(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# ----------------------------------------------------------------- readouts


class Gaussian(nn.Module):
    """FullGaussian2d, gauss_type='full', batch_sample=True, align_corners=True."""

    def __init__(self, C, N, gmp=None, coords=None, match_ids=None, owner=None):
        super().__init__()
        self.C, self.N, self.gmp = C, N, gmp
        if gmp is None:
            self._mu = nn.Parameter(torch.zeros(1, N, 1, 2))
        else:
            hl, hf, tanh = gmp
            layers = [nn.Linear(2, hf if hl > 0 else 2)]
            for i in range(hl):
                layers += [nn.ELU(), nn.Linear(hf, hf if i < hl - 1 else 2)]
            if tanh:
                layers.append(nn.Tanh())
            self.mu_transform = nn.Sequential(*layers)
            sg = coords[:, :2] - coords[:, :2].mean(axis=0, keepdims=True)
            sg = sg / np.abs(sg).max()
            self.register_buffer("source_grid", torch.from_numpy(sg.astype(np.float32)))
        self.sigma = nn.Parameter(torch.zeros(1, N, 2, 2))
        self.shared = match_ids is not None
        self.original = owner is None
        if self.shared:
            ids, idx = np.unique(match_ids, return_inverse=True)
            if owner is None:
                self._features = nn.Parameter(torch.zeros(1, C, 1, len(ids)))
            else:
                self._features = owner._features
            self.scales = nn.Parameter(torch.zeros(1, 1, 1, N))
            self.register_buffer("feature_sharing_index", torch.from_numpy(idx.astype(np.int64)))
        else:
            self._features = nn.Parameter(torch.zeros(1, C, 1, N))
        self.bias = nn.Parameter(torch.zeros(N))

    def features(self):
        if self.shared:
            return self.scales * self._features[..., self.feature_sharing_index]
        return self._features

    def mu(self):
        if self.gmp is None:
            return self._mu
        return self.mu_transform(self.source_grid).view(1, self.N, 1, 2)

    def forward(self, x, z, shift, training):
        B = x.shape[0]
        with torch.no_grad():
            if self.gmp is None:
                self._mu.clamp_(min=-1, max=1)
        norm = z.view(B, self.N, 1, 2) if training else torch.zeros(B, self.N, 1, 2)
        grid = torch.clamp(torch.einsum("ancd,bnid->bnic", self.sigma, norm) + self.mu(), min=-1, max=1)
        if shift is not None:
            grid = grid + shift[:, None, None, :]
        y = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        y = (y.squeeze(-1) * self.features().view(1, self.C, self.N)).sum(1).view(B, self.N)
        return y + self.bias

    def regularizer(self):
        return GAMMA * self._features.abs().sum() if self.original else torch.zeros(())


def positive(w):
    w.data *= w.data.ge(0).float()


class Factorized(nn.Module):
    """FullSXF (nnsysident): features first, then spatial, then bias."""

    def __init__(self, C, H, W, N, normalize=False, match_ids=None, owner=None):
        super().__init__()
        self.C, self.N, self.normalize = C, N, normalize
        self.shared = match_ids is not None
        self.original = owner is None
        if self.shared:
            ids, idx = np.unique(match_ids, return_inverse=True)
            if owner is None:
                self._features = nn.Parameter(torch.zeros(len(ids), C))
            else:
                self._features = owner._features
            self.scales = nn.Parameter(torch.zeros(N, 1))
            self.register_buffer("feature_sharing_index", torch.from_numpy(idx.astype(np.int64)))
        else:
            self._features = nn.Parameter(torch.zeros(N, C))
        self.spatial = nn.Parameter(torch.zeros(N, H, W))
        self.bias = nn.Parameter(torch.zeros(N))

    def features(self):
        if self.shared:
            return self.scales * self._features[self.feature_sharing_index, ...]
        return self._features

    def normalized_spatial(self):
        positive(self.spatial)
        if self.normalize:
            norm = self.spatial.pow(2).sum(dim=1, keepdim=True)
            norm = norm.sum(dim=2, keepdim=True).sqrt().expand_as(self.spatial) + 1e-6
            return self.spatial / norm
        return self.spatial

    def forward(self, x, z, shift, training):
        y = torch.einsum("nchw,ohw->nco", x, self.normalized_spatial())
        y = torch.einsum("nco,oc->no", y, self.features())
        return y + self.bias

    def regularizer(self):
        ns = self.normalized_spatial()
        if self.original:
            l1 = (ns.view(self.N, -1).abs().sum(dim=1, keepdim=True)
                  * self.features().view(self.N, -1).abs().sum(dim=1)).sum()
        else:
            l1 = ns.view(self.N, -1).abs().sum()
        return GAMMA * l1


class PointPooled(nn.Module):
    def __init__(self, C, N, pool_steps, pool_kern):
        super().__init__()
        self.C, self.N, self.steps = C, N, pool_steps
        self.grid = nn.Parameter(torch.zeros(1, N, 1, 2))
        self.features = nn.Parameter(torch.zeros(1, C * (pool_steps + 1), 1, N))
        self.bias = nn.Parameter(torch.zeros(N))
        self.avg = nn.AvgPool2d((pool_kern, pool_kern), stride=pool_kern, count_include_pad=False)

    def forward(self, x, z, shift, training):
        self.grid.data = torch.clamp(self.grid.data, -1, 1)
        B = x.shape[0]
        feat = self.features.view(1, (self.steps + 1) * self.C, self.N)
        grid = self.grid.expand(B, self.N, 1, 2)
        if shift is not None:
            grid = grid + shift[:, None, None, :]
        pools = [F.grid_sample(x, grid, align_corners=True)]
        for _ in range(self.steps):
            x = self.avg(x)
            pools.append(F.grid_sample(x, grid, align_corners=True))
        y = torch.cat(pools, dim=1)
        return (y.squeeze(-1) * feat).sum(1).view(B, self.N) + self.bias

    def regularizer(self):
        return GAMMA * self.features.abs().sum()


# ------------------------------------------------------------------ writing


def put(g, name, a):
    a = a.detach().cpu().numpy() if torch.is_tensor(a) else np.asarray(a)
    if a.dtype == np.float64 and not name.endswith("coords"):
        a = a.astype(np.float32)
    g.create_dataset(name, data=a)


def fill_params(mod, values):
    with torch.no_grad():
        for name, p in mod.named_parameters():
            p.copy_(T(values[name]))


def random_params(mod, mu_edge=True):
    """Values of every own parameter: large enough for meaningful gradients."""
    vals = {}
    for name, p in mod.named_parameters():
        shape = tuple(p.shape)
        if name == "_mu":
            v = unif(-0.85, 0.85, *shape)
            if mu_edge:
                v.reshape(-1)[1] = 1.3  # clamped in place to 1 by the forward
        elif name == "sigma":
            v = unif(-0.4, 0.4, *shape)
        elif name == "scales":
            v = (1.0 + 0.3 * RNG.standard_normal(shape)).astype(np.float32)
        elif name == "bias":
            v = f32(*shape, scale=0.1)
        elif name == "spatial":
            v = f32(*shape)  # about half negative: the projection matters
        elif name == "grid":
            v = unif(-0.9, 0.9, *shape)
            v.reshape(-1)[2] = -1.2  # clamped in place
        elif name.startswith("mu_transform") and name.endswith("weight"):
            v = f32(*shape, scale=0.5)
        elif name.startswith("mu_transform"):
            v = f32(*shape, scale=0.05)
        else:
            v = f32(*shape)
        vals[name] = v
    return vals


def run_case(g, mods, inputs, training=True):
    """mods: {label: module}; inputs: {label: (feat, z, shift, dout)}. Writes one case."""
    for p in set(p for m in mods.values() for p in m.parameters()):
        p.grad = None
    for label, m in mods.items():
        sub = g.require_group("param/" + label) if label else g.require_group("param")
        for name, t in m.state_dict().items():
            if name in dict(m.named_buffers()):
                continue
            put(sub, name, t)
        buf = g.require_group("buffer/" + label) if label else g.require_group("buffer")
        for name, t in m.named_buffers():
            put(buf, name, t)
    total = torch.zeros((), dtype=torch.float64)
    res = {}
    for label, m in mods.items():
        feat, z, shift, dout = inputs[label]
        x = T(feat).requires_grad_(True)
        s = T(shift).requires_grad_(True) if shift is not None else None
        y = m(x, T(z) if z is not None else None, s, training)
        reg = m.regularizer()
        total = total + (y.double() * T(dout).double()).sum() + reg.double()
        res[label] = (x, s, y, reg)
    total.backward()
    for label, m in mods.items():
        x, s, y, reg = res[label]
        pre = label + "/" if label else ""
        put(g, pre + "out", y)
        g.create_dataset(pre + "reg", data=np.float64(reg.item()))
        put(g, pre + "dfeat", x.grad)
        if s is not None:
            put(g, pre + "dshift", s.grad)
        after = g.require_group("after/" + label) if label else g.require_group("after")
        grad = g.require_group("grad/" + label) if label else g.require_group("grad")
        for name, p in m.named_parameters():
            put(after, name, p)
            put(grad, name, p.grad if p.grad is not None else torch.zeros_like(p))


def put_inputs(g, label, feat, z, shift, dout):
    pre = label + "/" if label else ""
    put(g, pre + "feat", feat)
    if z is not None:
        put(g, pre + "z", z)
    if shift is not None:
        put(g, pre + "shift", shift)
    put(g, pre + "dout", dout)


def gaussian_case(f, name, B, C, H, W, N, gmp=None, training=True, shift=True):
    g = f.create_group(name)
    coords = None
    if gmp is not None:
        coords = RNG.uniform(-300, 300, (N, 3))
        put(g, "coords", coords)
    m = Gaussian(C, N, gmp=gmp, coords=coords)
    fill_params(m, random_params(m))
    feat, z, dout = f32(B, C, H, W), f32(B, N, 2), f32(B, N)
    sh = unif(-0.15, 0.15, B, 2) if shift else None
    put_inputs(g, "", feat, z, sh, dout)
    g.attrs["training"] = int(training)
    g.attrs["dims"] = np.array([B, C, H, W, N], dtype=np.int64)
    if gmp is not None:
        g.attrs["gmp"] = np.array(gmp, dtype=np.int64)
    run_case(g, {"": m}, {"": (feat, z, sh, dout)}, training)


def shared_gaussian_case(f, B, C, H, W):
    g = f.create_group("gauss_shared")
    ids_a = np.array([7, 3, -1, 11, 3, -1, 5], dtype=np.int64)
    ids_b = np.array([11, -1, 5, 7, 3], dtype=np.int64)
    coords = RNG.uniform(-300, 300, (len(ids_a), 3))
    a = Gaussian(C, len(ids_a), gmp=(0, 0, 0), coords=coords, match_ids=ids_a)
    b = Gaussian(C, len(ids_b), gmp=None, match_ids=ids_b, owner=a)
    fill_params(a, random_params(a))
    vb = random_params(b)
    vb.pop("_features")
    with torch.no_grad():
        for n, p in b.named_parameters():
            if n != "_features":
                p.copy_(T(vb[n]))
    put(g, "a/coords", coords)
    put(g, "a/match_ids", ids_a)
    put(g, "b/match_ids", ids_b)
    inputs = {}
    for label, m in (("a", a), ("b", b)):
        inputs[label] = (f32(B, C, H, W), f32(B, m.N, 2), unif(-0.15, 0.15, B, 2), f32(B, m.N))
        put_inputs(g, label, *inputs[label])
    g.attrs["dims"] = np.array([B, C, H, W, len(ids_a), len(ids_b)], dtype=np.int64)
    run_case(g, {"a": a, "b": b}, inputs, True)


def factorized_case(f, name, B, C, H, W, N, normalize):
    g = f.create_group(name)
    m = Factorized(C, H, W, N, normalize=normalize)
    fill_params(m, random_params(m))
    feat, dout = f32(B, C, H, W), f32(B, N)
    put_inputs(g, "", feat, None, None, dout)
    g.attrs["dims"] = np.array([B, C, H, W, N], dtype=np.int64)
    g.attrs["normalize"] = int(normalize)
    run_case(g, {"": m}, {"": (feat, None, None, dout)}, True)


def shared_factorized_case(f, B, C, H, W):
    g = f.create_group("fact_shared")
    ids_a = np.array([4, 9, 4, 2, -1], dtype=np.int64)
    ids_b = np.array([9, 2, -1, 4, 2, 9], dtype=np.int64)
    a = Factorized(C, H, W, len(ids_a), match_ids=ids_a)
    b = Factorized(C, H, W, len(ids_b), match_ids=ids_b, owner=a)
    fill_params(a, random_params(a))
    vb = random_params(b)
    with torch.no_grad():
        for n, p in b.named_parameters():
            if n != "_features":
                p.copy_(T(vb[n]))
    put(g, "a/match_ids", ids_a)
    put(g, "b/match_ids", ids_b)
    inputs = {}
    for label, m in (("a", a), ("b", b)):
        inputs[label] = (f32(B, C, H, W), None, None, f32(B, m.N))
        put_inputs(g, label, *inputs[label])
    g.attrs["dims"] = np.array([B, C, H, W, len(ids_a), len(ids_b)], dtype=np.int64)
    run_case(g, {"a": a, "b": b}, inputs, True)


def pointpooled_case(f, B, C, H, W, N, steps, kern):
    g = f.create_group("pointpooled")
    m = PointPooled(C, N, steps, kern)
    fill_params(m, random_params(m))
    feat, dout, sh = f32(B, C, H, W), f32(B, N), unif(-0.15, 0.15, B, 2)
    put_inputs(g, "", feat, None, sh, dout)
    g.attrs["dims"] = np.array([B, C, H, W, N, steps, kern], dtype=np.int64)
    run_case(g, {"": m}, {"": (feat, None, sh, dout)}, True)


def gridsample_case(f):
    g = f.create_group("gridsample")
    B, C, H, W, P = 2, 3, 4, 5, 9
    inp = f32(B, C, H, W)
    grid = unif(-1.3, 1.3, B, P, 2)  # some points outside [-1, 1]: zero padding
    dout = f32(B, C, P)
    x = T(inp).requires_grad_(True)
    gr = T(grid).requires_grad_(True)
    out = F.grid_sample(x, gr.view(B, P, 1, 2), mode="bilinear", padding_mode="zeros", align_corners=True)
    out = out.view(B, C, P)
    (out.double() * T(dout).double()).sum().backward()
    for k, v in (("inp", inp), ("grid", grid), ("dout", dout), ("out", out), ("dinp", x.grad),
                 ("dgrid", gr.grad)):
        put(g, k, v)
    a = f.create_group("avgpool")
    inp = f32(2, 2, 10, 11)
    x = T(inp).requires_grad_(True)
    out = nn.AvgPool2d((3, 3), stride=3, count_include_pad=False)(x)
    dout = f32(*out.shape)
    (out * T(dout)).sum().backward()
    for k, v in (("inp", inp), ("dout", dout), ("out", out), ("dinp", x.grad)):
        put(a, k, v)


def mlp_case(f):
    """Shifter (2 layers: Linear(2,3) Tanh Linear(3,2) Tanh) and modulator (3 -> 5 -> N, ReLU, ELU+1)."""
    g = f.create_group("shifter")
    B = 5
    mlp = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 2), nn.Tanh())
    with torch.no_grad():
        for p in mlp.parameters():
            p.copy_(T(f32(*p.shape)))
    pupil, dshift = f32(B, 2), f32(B, 2)
    x = T(pupil).requires_grad_(True)
    out = mlp(x)
    (out * T(dshift)).sum().backward()
    for k, v in (("pupil", pupil), ("dout", dshift), ("out", out), ("dpupil", x.grad)):
        put(g, k, v)
    for n, p in mlp.named_parameters():
        put(g, "param/mlp." + n, p)
        put(g, "grad/mlp." + n, p.grad)

    g = f.create_group("modulator")
    N = 6
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, N), nn.ReLU())
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(T(f32(*p.shape)))
    beh, dgain = f32(B, 3), f32(B, N)
    x = T(beh).requires_grad_(True)
    gain = F.elu(net(x)) + 1
    (gain * T(dgain)).sum().backward()
    for k, v in (("behavior", beh), ("dout", dgain), ("out", gain), ("dbehavior", x.grad)):
        put(g, k, v)
    for n, p in net.named_parameters():
        put(g, "param/modulator_networks.0." + n, p)
        put(g, "grad/modulator_networks.0." + n, p.grad)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/readout_ref.h5"
    with h5py.File(path, "w", libver=("v108", "v110")) as f:
        f.attrs["gamma_readout"] = GAMMA
        f.attrs["torch_version"] = str(torch.__version__).encode()
        gridsample_case(f)
        gaussian_case(f, "gauss_free", 4, 3, 5, 7, 6)
        gaussian_case(f, "gauss_free_eval", 3, 3, 5, 7, 6, training=False)
        gaussian_case(f, "gauss_cortex", 4, 3, 5, 7, 6, gmp=(0, 0, 0))
        gaussian_case(f, "gauss_mlp", 3, 3, 5, 7, 6, gmp=(2, 4, 1))
        shared_gaussian_case(f, 3, 3, 5, 7)
        factorized_case(f, "fact", 3, 4, 5, 6, 7, False)
        factorized_case(f, "fact_norm", 3, 4, 5, 6, 7, True)
        shared_factorized_case(f, 3, 4, 5, 6)
        pointpooled_case(f, 3, 3, 10, 11, 5, 2, 3)
        mlp_case(f)
    print("wrote", path)


if __name__ == "__main__":
    main()
