#!/usr/bin/python3
"""Write tests/fixtures/layers_ref.h5: PyTorch reference values for the plain layers.

Run by a developer where torch and h5py are installed (Debian: python3-torch,
python3-h5py), never by CI:

    /usr/bin/python3 tests/gen_layer_fixtures.py [out.h5]

Every group holds the inputs, the parameters, a fixed upstream gradient `gy`, the
forward output `y` and the gradients of sum(y * gy) from autograd, all float32 in
PyTorch's shapes (row-major). tests/test_layers_ref.c compares nsid's layers with
them (tolerance abs 1e-5 + rel 1e-4).
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


if __name__ == "__main__":
    main()
