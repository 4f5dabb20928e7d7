#!/usr/bin/python3
"""VGG16 weight files in both layouts nsid reads, and a PyTorch reference of the task-driven core.

Run by a developer where torch, numpy and h5py are installed (Debian: python3-torch,
python3-numpy, python3-h5py), never by CI:

    /usr/bin/python3 tests/gen_vgg_fixtures.py [outdir]          # the test fixtures
    /usr/bin/python3 tests/gen_vgg_fixtures.py --convert vgg16.pth vgg16_torchvision.h5

Fixtures (tests/fixtures/):
  vgg16_torchvision.h5  a torchvision vgg16().state_dict() converted to HDF5: one float32
                        dataset per entry under its state_dict name ("features.0.weight"
                        (64,3,3,3), "features.0.bias", ... "features.7.*"), plus one
                        classifier entry that the loader must ignore. Deeper layers are left
                        out to keep the file small (the core stops at conv2_2, features.7).
  vgg16_keras_notop.h5  the layout of Keras' vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5:
                        root attribute layer_names, one group per layer with attribute
                        weight_names and datasets "<layer>_W_1:0" (3,3,Cin,Cout) and
                        "<layer>_b_1:0" (Cout); only the layers up to block2_pool (the file
                        released by Keras continues to block5_pool).
  vgg16_ref.h5          input x (2,1,10,12), the output of features[:8] -> BatchNorm2d(128,
                        momentum 0.1) -> ReLU in training mode (out_train), the running
                        statistics after that forward, and the output in evaluation mode with
                        them (out_eval); conv2_2's output before the BN (conv_out).
The weights are random signs times a per-layer power of two (so the files compress to a
few tens of KB), the same in both layouts, so one reference checks both loaders.

--convert turns a real torchvision checkpoint (torch.save(vgg16(pretrained=True).state_dict()))
into the torchvision HDF5 layout (every features.* entry) for model.core.checkpoint.
"""
import os
import sys

import h5py
import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from nsid.model import VGG16Core  # noqa: E402

CONVS = [(0, "block1_conv1", 3, 64), (2, "block1_conv2", 64, 64), (5, "block2_conv1", 64, 128),
         (7, "block2_conv2", 128, 128)]


def features8():
    """torchvision vgg16().features[:8]: conv1_1, ReLU, conv1_2, ReLU, pool, conv2_1, ReLU, conv2_2
    (the TransferLearning part of the nsid Python module's VGG16Core, python/nsid/model.py)."""
    return VGG16Core().features.TransferLearning


def convert(src, dst):
    sd = torch.load(src, map_location="cpu")
    with h5py.File(dst, "w") as f:
        for k, v in sd.items():
            if k.startswith("features."):
                f.create_dataset(k, data=v.detach().numpy().astype(np.float32))
    print("wrote", dst)


def main(outdir):
    rng = np.random.default_rng(20210507)
    feats = features8()
    with torch.no_grad():
        for idx, _, cin, cout in CONVS:
            scale = np.float32(2.0 ** np.round(np.log2(1.0 / np.sqrt(cin * 9))))  # a power of two
            w = rng.choice(np.array([-1, 1], dtype=np.float32), size=(cout, cin, 3, 3)) * scale
            b = rng.choice(np.array([-0.125, 0, 0.125, 0.25], dtype=np.float32), size=(cout,))
            feats[idx].weight.copy_(torch.from_numpy(w))
            feats[idx].bias.copy_(torch.from_numpy(b))
    comp = dict(compression="gzip", compression_opts=9, shuffle=True)

    with h5py.File(os.path.join(outdir, "vgg16_torchvision.h5"), "w") as f:
        for idx, _, _, _ in CONVS:
            f.create_dataset(f"features.{idx}.weight", data=feats[idx].weight.detach().numpy(), **comp)
            f.create_dataset(f"features.{idx}.bias", data=feats[idx].bias.detach().numpy(), **comp)
        f.create_dataset("classifier.6.bias", data=np.zeros(1000, np.float32), **comp)

    with h5py.File(os.path.join(outdir, "vgg16_keras_notop.h5"), "w") as f:
        layers = ["input_1", "block1_conv1", "block1_conv2", "block1_pool", "block2_conv1", "block2_conv2",
                  "block2_pool"]
        f.attrs["layer_names"] = np.array([n.encode() for n in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"1.1.0"
        convs = {name: idx for idx, name, _, _ in CONVS}
        for name in layers:
            g = f.create_group(name)
            if name not in convs:
                g.attrs["weight_names"] = np.array([], dtype="S1")
                continue
            idx = convs[name]
            wn = [f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()]
            g.attrs["weight_names"] = np.array(wn)
            k = feats[idx].weight.detach().numpy().transpose(2, 3, 1, 0)  # (O,C,kh,kw) -> (kh,kw,C,O)
            g.create_dataset(wn[0].decode(), data=np.ascontiguousarray(k), **comp)
            g.create_dataset(wn[1].decode(), data=feats[idx].bias.detach().numpy(), **comp)

    x = torch.from_numpy(rng.standard_normal((2, 1, 10, 12)).astype(np.float32))
    bn = nn.BatchNorm2d(128, momentum=0.1)
    with torch.no_grad():
        conv_out = feats(x.repeat(1, 3, 1, 1))
        bn.train()
        out_train = torch.relu(bn(conv_out))
        rm, rv = bn.running_mean.clone(), bn.running_var.clone()
        bn.eval()
        out_eval = torch.relu(bn(conv_out))
    with h5py.File(os.path.join(outdir, "vgg16_ref.h5"), "w") as f:
        for k, v in dict(x=x, conv_out=conv_out, out_train=out_train, out_eval=out_eval, running_mean=rm,
                         running_var=rv).items():
            f.create_dataset(k, data=v.numpy().astype(np.float32), **comp)
    for n in ("vgg16_torchvision.h5", "vgg16_keras_notop.h5", "vgg16_ref.h5"):
        print(n, os.path.getsize(os.path.join(outdir, n)), "bytes")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--convert":
        convert(sys.argv[2], sys.argv[3])
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "fixtures"))
