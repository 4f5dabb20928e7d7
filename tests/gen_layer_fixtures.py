#!/usr/bin/python3
"""Write tests/fixtures/layers_ref.h5 (the plain layers) and core_ref.h5 (a small SE2d core):
PyTorch reference values for nsid's layers.

Run by a developer where torch and h5py are installed (Debian: python3-torch,
python3-h5py), never by CI:

    /usr/bin/python3 tests/gen_layer_fixtures.py [out.h5]

Every group holds the inputs, the parameters, a fixed upstream gradient `gy`, the
forward output `y` and the gradients of sum(y * gy) from autograd, all float32 in
PyTorch's shapes (row-major). tests/test_layers_ref.c compares nsid's layers with
them (tolerance abs 1e-5 + rel 1e-4). core_ref.h5 holds a 3-layer, 4-channel SE2d core
(5x5 input kernel, 3x3 depth-separable hidden layers, BN momentum 0.9) under its
state_dict names ('.' -> '/'), its output and gradients in train and eval mode, the
running statistics after the training forward and the Laplace regulariser;
tests/test_core_ref.c compares nsid's core with it.
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(20210503)
torch.set_num_threads(1)


def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def save(h5, group, **arrays):
    g = h5.create_group(group)
    for k, v in arrays.items():
        g.create_dataset(k, data=np.asarray(f32(v) if torch.is_tensor(v) else v, dtype=np.float32))
    return g


def grads_of(y, gy, *leaves):
    for t in leaves:
        t.grad = None
    (y * gy).sum().backward()
    return [t.grad for t in leaves]


def conv_case(h5, name, x_shape, w_shape, pad, bias, groups=1):
    x = torch.randn(*x_shape, requires_grad=True)
    w = (0.5 * torch.randn(*w_shape)).requires_grad_(True)
    b = (0.5 * torch.randn(w_shape[0])).requires_grad_(True) if bias else None
    y = F.conv2d(x, w, b, padding=pad, groups=groups)
    gy = torch.randn_like(y)
    leaves = [x, w] + ([b] if bias else [])
    gs = grads_of(y, gy, *leaves)
    arrays = dict(x=x, w=w, gy=gy, y=y, gx=gs[0], gw=gs[1])
    if bias:
        arrays.update(b=b, gb=gs[2])
    g = save(h5, name, **arrays)
    g.attrs["pad"] = pad


def bn_case(h5):
    N, C, H, W = 3, 4, 5, 6
    bn = torch.nn.BatchNorm2d(C, momentum=0.9, eps=1e-5)
    with torch.no_grad():
        bn.weight.copy_(1.0 + 0.3 * torch.randn(C))
        bn.bias.copy_(0.3 * torch.randn(C))
        bn.running_mean.copy_(torch.randn(C))
        bn.running_var.copy_(0.5 + torch.rand(C))
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    # channel means and scales far from 0/1, as after a conv on 0..255 images
    x = (torch.randn(N, C, H, W) * torch.tensor([1.0, 3.0, 0.5, 10.0]).view(1, C, 1, 1)
         + torch.tensor([0.0, 5.0, -2.0, 100.0]).view(1, C, 1, 1)).requires_grad_(True)
    gamma0, beta0 = bn.weight.detach().clone(), bn.bias.detach().clone()
    bn.train()
    y = bn(x)
    gy = torch.randn_like(y)
    gx, gg, gb = grads_of(y, gy, x, bn.weight, bn.bias)
    rm1, rv1 = bn.running_mean.clone(), bn.running_var.clone()
    bn.eval()
    ye = bn(x)
    gxe, gge, gbe = grads_of(ye, gy, x, bn.weight, bn.bias)
    g = save(h5, "bn", x=x, gamma=gamma0, beta=beta0, running_mean0=rm0, running_var0=rv0, gy=gy,
             y=y, gx=gx, ggamma=gg, gbeta=gb, running_mean1=rm1, running_var1=rv1,
             y_eval=ye, gx_eval=gxe, ggamma_eval=gge, gbeta_eval=gbe)
    g.attrs["momentum"] = 0.9
    g.attrs["eps"] = 1e-5
    g.attrs["num_batches_tracked"] = int(bn.num_batches_tracked)


def act_case(h5, name, fn, shape=(2, 3, 5, 7)):
    x = (1.5 * torch.randn(*shape)).requires_grad_(True)
    y = fn(x)
    gy = torch.randn_like(y)
    (gx,) = grads_of(y, gy, x)
    save(h5, name, x=x, gy=gy, y=y, gx=gx)


def laplace_case(h5):
    w = torch.randn(4, 2, 5, 5, requires_grad=True)
    lap = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]).view(1, 1, 3, 3)
    oc, ic, k1, k2 = w.shape
    r = F.conv2d(w.reshape(oc * ic, 1, k1, k2), lap, padding=1).pow(2).sum() / w.reshape(oc * ic, 1, k1, k2).pow(2).sum()
    r.backward()
    save(h5, "laplace", w=w, value=r.reshape(1), grad=w.grad)


def poisson_case(h5):
    B, N = 4, 6
    rhat = (0.05 + 2.0 * torch.rand(B, N)).requires_grad_(True)
    r = torch.where(torch.rand(B, N) < 0.3, torch.zeros(B, N), 3.0 * torch.rand(B, N))
    scale = float(np.sqrt(5993.0 / B))
    loss = scale * (rhat - r * torch.log(rhat + 1e-12)).sum()
    loss.backward()
    g = save(h5, "poisson", rhat=rhat, r=r, value=loss.reshape(1), grad=rhat.grad)
    g.attrs["scale"] = scale


def l1_case(h5):
    w = torch.randn(3, 7)
    w[0, 0] = 0.0
    w.requires_grad_(True)
    gamma = 0.37
    p = gamma * w.abs().sum()
    p.backward()
    g = save(h5, "l1", w=w, value=p.reshape(1), grad=w.grad)
    g.attrs["gamma"] = gamma


def adam_case(h5):
    n, steps = 37, 3
    p = torch.randn(n, requires_grad=True)
    p0 = p.detach().clone()
    opt = torch.optim.Adam([p], lr=0.005)
    gs, ps, ms, vs = [], [], [], []
    for _ in range(steps):
        g = torch.randn(n) * torch.pow(10.0, torch.empty(n).uniform_(-4, 1))
        p.grad = g.clone()
        opt.step()
        st = opt.state[p]
        gs.append(g.clone()); ps.append(p.detach().clone())
        ms.append(st["exp_avg"].clone()); vs.append(st["exp_avg_sq"].clone())
    grp = save(h5, "adam", p0=p0, g=torch.stack(gs), p=torch.stack(ps), m=torch.stack(ms), v=torch.stack(vs))
    grp.attrs["lr"] = 0.005


class DepthSeparableConv2d(torch.nn.Sequential):
    """neuralpredictors v0.0.3 layers/architectures.py: 1x1 -> depthwise -> 1x1."""

    def __init__(self, ch, k, pad):
        super().__init__()
        self.add_module("in_depth_conv", torch.nn.Conv2d(ch, ch, 1, bias=False))
        self.add_module("spatial_conv", torch.nn.Conv2d(ch, ch, k, padding=pad, groups=ch, bias=False))
        self.add_module("out_depth_conv", torch.nn.Conv2d(ch, ch, 1, bias=False))


class LaplaceFilter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        lap = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=np.float32)[None, None]
        self.register_buffer("filter", torch.from_numpy(lap))


class Regularizer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.laplace = LaplaceFilter()

    def forward(self, w):
        oc, ic, k1, k2 = w.shape
        w = w.reshape(oc * ic, 1, k1, k2)
        return F.conv2d(w, self.laplace.filter, padding=1).pow(2).sum() / w.pow(2).sum()


class SE2dCore(torch.nn.Module):
    """The module tree (and so the state_dict names) of neuralpredictors v0.0.3 SE2dCore
    with bias=False, batch_norm=True, n_se_blocks=0, final_nonlinearity=True."""

    def __init__(self, cin, layers, ch, k0, kh, pad_input, depth_separable, momentum):
        super().__init__()
        from collections import OrderedDict
        self._input_weights_regularizer = Regularizer()
        self.features = torch.nn.Sequential()
        self.features.add_module("layer0", torch.nn.Sequential(OrderedDict(
            conv=torch.nn.Conv2d(cin, ch, k0, padding=k0 // 2 if pad_input else 0, bias=False),
            norm=torch.nn.BatchNorm2d(ch, momentum=momentum),
            nonlin=torch.nn.ELU(inplace=True))))
        for l in range(1, layers):
            conv = (("ds_conv", DepthSeparableConv2d(ch, kh, kh // 2)) if depth_separable
                    else ("conv", torch.nn.Conv2d(ch, ch, kh, padding=kh // 2, bias=False)))
            self.features.add_module("layer%d" % l, torch.nn.Sequential(OrderedDict([
                conv, ("norm", torch.nn.BatchNorm2d(ch, momentum=momentum)),
                ("nonlin", torch.nn.ELU(inplace=True))])))
        for m in self.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.xavier_normal_(m.weight)

    def forward(self, x):
        return self.features(x)


def core_fixture(out):
    """tests/fixtures/core_ref.h5: a small SE2d core (prefix "core") in train and eval mode."""
    cfg = dict(cin=1, layers=3, ch=4, k0=5, kh=3, pad_input=False, depth_separable=True, momentum=0.9)
    core = SE2dCore(**cfg)
    with torch.no_grad():
        for name, t in core.named_parameters():
            if name.endswith("norm.weight"):
                t.copy_(1.0 + 0.3 * torch.randn_like(t))
            elif name.endswith("norm.bias"):
                t.copy_(0.3 * torch.randn_like(t))
        for name, t in core.named_buffers():
            if name.endswith("running_mean"):
                t.copy_(torch.randn_like(t))
            elif name.endswith("running_var"):
                t.copy_(0.5 + torch.rand_like(t))
    state0 = {k: v.clone() for k, v in core.state_dict().items()}
    x = (255.0 * torch.rand(3, 1, 12, 14)).requires_grad_(True)  # images on the 0..255 scale
    with h5py.File(out, "w") as h5:
        h5.attrs["torch_version"] = str(torch.__version__)
        for k, v in cfg.items():
            h5.attrs[k] = int(v) if isinstance(v, bool) else v
        for k, v in state0.items():
            if not k.endswith("num_batches_tracked"):
                h5.create_dataset("params/core/" + k.replace(".", "/"), data=f32(v))
        h5.create_dataset("x", data=f32(x))
        for mode in ("train", "eval"):
            core.train(mode == "train")
            core.zero_grad()
            x.grad = None
            y = core(x)
            if mode == "train":
                gy = torch.randn_like(y)
                h5.create_dataset("gy", data=f32(gy))
            (y * gy).sum().backward()
            h5.create_dataset(mode + "/y", data=f32(y))
            h5.create_dataset(mode + "/gx", data=f32(x.grad))
            for k, p in core.named_parameters():
                h5.create_dataset(mode + "/grad/core/" + k.replace(".", "/"), data=f32(p.grad))
            for k, b in core.named_buffers():
                if "running" in k:
                    h5.create_dataset(mode + "/buffers/core/" + k.replace(".", "/"), data=f32(b))
        w0 = core.features.layer0.conv.weight
        w0.grad = None
        r = core._input_weights_regularizer(w0)
        r.backward()
        h5.create_dataset("reg/value", data=f32(r.reshape(1)))
        h5.create_dataset("reg/grad", data=f32(w0.grad))
        h5.attrs["num_batches_tracked"] = int(core.features.layer0.norm.num_batches_tracked)
    print("wrote", out, os.path.getsize(out), "bytes")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "fixtures", "layers_ref.h5")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with h5py.File(out, "w") as h5:
        h5.attrs["torch_version"] = str(torch.__version__)
        conv_case(h5, "conv_valid", (2, 3, 7, 8), (4, 3, 3, 3), 0, True)
        conv_case(h5, "conv_same", (2, 2, 6, 9), (3, 2, 5, 5), 2, False)
        conv_case(h5, "pointwise", (2, 3, 4, 5), (4, 3, 1, 1), 0, False)
        conv_case(h5, "depthwise_same", (2, 3, 6, 11), (3, 1, 3, 3), 1, False, groups=3)
        conv_case(h5, "depthwise_valid", (2, 2, 7, 9), (2, 1, 5, 5), 0, False, groups=2)
        bn_case(h5)
        act_case(h5, "elu", F.elu)
        act_case(h5, "elu1", lambda x: F.elu(x) + 1)
        act_case(h5, "relu", F.relu)
        act_case(h5, "maxpool", lambda x: F.max_pool2d(x, 2), shape=(2, 2, 5, 7))
        laplace_case(h5)
        poisson_case(h5)
        l1_case(h5)
        adam_case(h5)
    print("wrote", out, os.path.getsize(out), "bytes")
    core_fixture(os.path.join(os.path.dirname(out), "core_ref.h5"))


if __name__ == "__main__":
    main()
