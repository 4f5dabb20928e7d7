"""nsid.model - nsid's model in PyTorch, with neuralpredictors v0.0.x state_dict names.

neuralpredictors is not needed: the v0.0.3 modules the paper used (docs/paper.md §1-4) are
written here in plain torch with the same state_dict names and forward semantics as nsid's C
model (src/nn/model.h): SE2dCore, the VGG16 TransferLearningCore (features[:8] + BatchNorm +
ReLU), FullGaussian2d (free mean or grid-mean predictor, feature sharing), FullSXF (factorized),
PointPooled2d, the MLP shifter and modulator, and the Encoder's ELU + 1. load_model builds one
from the architecture an nsid checkpoint records and loads its tensors strictly.

tests/gen_model_fixtures.py builds its PyTorch reference from these classes, and
tests/test_python.sh checks load_model against nsid-eval's predictions.
"""
import collections

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn import Parameter

from . import checkpoint as ck

# ----------------------------------------------------------------- regulariser


def laplace_filter():
    return np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=np.float32)[None, None]


class Laplace(nn.Module):
    def __init__(self, padding=None):
        super().__init__()
        self.register_buffer("filter", torch.from_numpy(laplace_filter()))
        self.padding_size = self.filter.shape[-1] // 2 if padding is None else padding

    def forward(self, x):
        return F.conv2d(x, self.filter, bias=None, padding=self.padding_size)


class LaplaceL2norm(nn.Module):
    """sum (L*W)^2 / sum W^2 over all kernels (avg=False, as SE2dCore calls it)."""

    def __init__(self, padding=None):
        super().__init__()
        self.laplace = Laplace(padding=padding)

    def forward(self, x):
        oc, ic, k1, k2 = x.size()
        w = x.reshape(oc * ic, 1, k1, k2)
        return self.laplace(w).pow(2).sum() / w.pow(2).sum()


# ----------------------------------------------------------------------- cores


class DepthSeparableConv2d(nn.Sequential):
    """pointwise -> depthwise -> pointwise, no nonlinearity inside."""

    def __init__(self, in_channels, out_channels, kernel_size, padding):
        super().__init__()
        self.add_module("in_depth_conv", nn.Conv2d(in_channels, out_channels, 1, bias=False))
        self.add_module("spatial_conv", nn.Conv2d(out_channels, out_channels, kernel_size, padding=padding,
                                                  bias=False, groups=out_channels))
        self.add_module("out_depth_conv", nn.Conv2d(out_channels, out_channels, 1, bias=False))


class SE2dCore(nn.Module):
    """The paper's core (docs/paper.md §1.2): conv -> BN -> ELU, then (depth-separable) conv layers."""

    def __init__(self, input_channels=1, hidden_channels=64, input_kern=15, hidden_kern=13, layers=4,
                 gamma_input=1.0, momentum=0.9, pad_input=False, depth_separable=True, eps=1e-5):
        super().__init__()
        self._input_weights_regularizer = LaplaceL2norm(padding=None)
        self.gamma_input = gamma_input
        self.features = nn.Sequential()
        layer = collections.OrderedDict()
        layer["conv"] = nn.Conv2d(input_channels, hidden_channels, input_kern,
                                  padding=input_kern // 2 if pad_input else 0, bias=False)
        layer["norm"] = nn.BatchNorm2d(hidden_channels, eps=eps, momentum=momentum)
        layer["nonlin"] = nn.ELU(inplace=True)
        self.features.add_module("layer0", nn.Sequential(layer))
        pad = ((hidden_kern - 1) * 1 + 1) // 2
        for i in range(1, layers):
            layer = collections.OrderedDict()
            if depth_separable:
                layer["ds_conv"] = DepthSeparableConv2d(hidden_channels, hidden_channels, hidden_kern, pad)
            else:
                layer["conv"] = nn.Conv2d(hidden_channels, hidden_channels, hidden_kern, padding=pad, bias=False)
            layer["norm"] = nn.BatchNorm2d(hidden_channels, eps=eps, momentum=momentum)
            layer["nonlin"] = nn.ELU(inplace=True)
            self.features.add_module(f"layer{i}", nn.Sequential(layer))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight.data)

    def forward(self, x):
        return self.features(x)

    def regularizer(self):
        return self.gamma_input * self._input_weights_regularizer(self.features[0].conv.weight)


class VGG16Core(nn.Module):
    """The task-driven core (docs/paper.md §7.5, src/nn/vgg16.h): torchvision vgg16().features[:8]
    (conv1_1 .. conv2_2, cut before its ReLU) -> BatchNorm2d(128) -> ReLU, the grey channel
    repeated 3x; names core.features.TransferLearning.<i>.*, core.features.OutBatchNorm.*."""

    def __init__(self, momentum=0.1, eps=1e-5):
        super().__init__()
        tl = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(inplace=True),
                           nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(inplace=True),
                           nn.MaxPool2d(2, 2),
                           nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(inplace=True),
                           nn.Conv2d(128, 128, 3, padding=1))
        self.features = nn.Sequential(collections.OrderedDict(
            TransferLearning=tl, OutBatchNorm=nn.BatchNorm2d(128, eps=eps, momentum=momentum),
            OutNonlin=nn.ReLU(inplace=True)))

    def forward(self, x):
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        return self.features(x)

    def regularizer(self):
        return 0.0


# -------------------------------------------------------------------- readouts


def normalise_source_grid(coords):
    """cell_motor_coordinates (N,3) -> (N,2): centre, divide by the single max |value|."""
    g = np.asarray(coords, dtype=np.float64)[:, :2]
    g = g - g.mean(axis=0, keepdims=True)
    g = g / np.abs(g).max()
    return g.astype(np.float32)


def _sharing_index(match_ids):
    _, idx = np.unique(match_ids, return_inverse=True)
    return torch.from_numpy(idx.astype(np.int64))


class FullGaussian2d(nn.Module):
    """Full-covariance Gaussian readout; mean free or from cortical coordinates (grid-mean predictor:
    an affine map, or hidden_layers x [Linear, ELU] + Linear [+ Tanh]).

    Feature sharing: match_ids (N) gives the sharing index, or n_ids its size (the index is then
    loaded from a checkpoint); shared_features is the owner's _features for a non-owner."""

    def __init__(self, in_shape, outdims, source_grid=None, match_ids=None, shared_features=None,
                 hidden_layers=0, hidden_features=0, final_tanh=False, n_ids=None):
        super().__init__()
        c, h, w = in_shape
        self.in_shape, self.outdims = in_shape, outdims
        self._predicted_grid = source_grid is not None
        if self._predicted_grid:
            mods, prev = [], 2
            for _ in range(hidden_layers):
                mods += [nn.Linear(prev, hidden_features), nn.ELU()]
                prev = hidden_features
            mods.append(nn.Linear(prev, 2))
            if final_tanh:
                mods.append(nn.Tanh())
            self.mu_transform = nn.Sequential(*mods)
            self.register_buffer("source_grid", torch.as_tensor(np.asarray(source_grid, np.float32)))
        else:
            self._mu = Parameter(torch.zeros(1, outdims, 1, 2))
        self.sigma = Parameter(torch.zeros(1, outdims, 2, 2))
        self._original_features = True
        self._shared_features = match_ids is not None or n_ids is not None
        if self._shared_features:
            if n_ids is None:
                n_ids = len(np.unique(match_ids))
            if shared_features is not None:
                assert shared_features.shape == (1, c, 1, n_ids)
                self._features = shared_features
                self._original_features = False
            else:
                self._features = Parameter(torch.zeros(1, c, 1, n_ids))
            self.scales = Parameter(torch.ones(1, 1, 1, outdims))
            idx = _sharing_index(match_ids) if match_ids is not None else torch.zeros(outdims, dtype=torch.int64)
            self.register_buffer("feature_sharing_index", idx)
        else:
            self._features = Parameter(torch.zeros(1, c, 1, outdims))
        self.bias = Parameter(torch.zeros(outdims))

    @property
    def features(self):
        if self._shared_features:
            return self.scales * self._features[..., self.feature_sharing_index]
        return self._features

    @property
    def mu(self):
        if self._predicted_grid:
            return self.mu_transform(self.source_grid).view(1, self.outdims, 1, 2)
        return self._mu

    def forward(self, x, z=None, shift=None):
        """Training mode samples the positions with the noise z (B,N,2) (None: the mean); evaluation
        uses the mean."""
        B, c = x.shape[:2]
        n = self.outdims
        if not self._predicted_grid:
            with torch.no_grad():
                self._mu.clamp_(min=-1, max=1)
        norm = z.view(B, n, 1, 2) if (z is not None and self.training) else x.new_zeros(B, n, 1, 2)
        grid = torch.clamp(torch.einsum("ancd,bnid->bnic", self.sigma, norm) + self.mu, min=-1, max=1)
        if shift is not None:
            grid = grid + shift[:, None, None, :]
        y = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        y = (y.squeeze(-1) * self.features.view(1, c, n)).sum(1).view(B, n)
        return y + self.bias

    def regularizer(self):
        return self._features.abs().sum() if self._original_features else 0.0


class FullSXF(nn.Module):
    """Factorized readout (Klindt 2017), positivity projection in place; normalize divides each
    spatial mask by its L2 norm + 1e-6."""

    def __init__(self, in_shape, outdims, match_ids=None, shared_features=None, normalize=False, n_ids=None):
        super().__init__()
        c, h, w = in_shape
        self.in_shape, self.outdims, self.normalize = in_shape, outdims, normalize
        self._original_features = True
        self._shared_features = match_ids is not None or n_ids is not None
        if self._shared_features:
            if n_ids is None:
                n_ids = len(np.unique(match_ids))
            if shared_features is not None:
                assert shared_features.shape == (n_ids, c)
                self._features = shared_features
                self._original_features = False
            else:
                self._features = Parameter(torch.zeros(n_ids, c))
            self.scales = Parameter(torch.ones(outdims, 1))
            idx = _sharing_index(match_ids) if match_ids is not None else torch.zeros(outdims, dtype=torch.int64)
            self.register_buffer("feature_sharing_index", idx)
        else:
            self._features = Parameter(torch.zeros(outdims, c))
        self.spatial = Parameter(torch.zeros(outdims, h, w))
        self.bias = Parameter(torch.zeros(outdims))

    @property
    def features(self):
        if self._shared_features:
            return self.scales * self._features[self.feature_sharing_index, ...]
        return self._features

    @property
    def normalized_spatial(self):
        # neuralpredictors' positive(): weight.data *= weight.data.ge(0)
        self.spatial.data *= self.spatial.data.ge(0).to(self.spatial.dtype)
        if self.normalize:
            norm = self.spatial.pow(2).sum(dim=(1, 2), keepdim=True).sqrt()
            return self.spatial / (norm + 1e-6)
        return self.spatial

    def forward(self, x, z=None, shift=None):
        y = torch.einsum("ncwh,owh->nco", x, self.normalized_spatial)
        y = torch.einsum("nco,oc->no", y, self.features)
        return y + self.bias

    def regularizer(self):
        n = self.outdims
        if self._original_features:
            # (N,1) * (N,) broadcasts to N x N: the product of the two global L1 norms (docs/paper.md §2.4)
            return (self.normalized_spatial.view(n, -1).abs().sum(dim=1, keepdim=True)
                    * self.features.view(n, -1).abs().sum(dim=1)).sum()
        return self.normalized_spatial.view(n, -1).abs().sum()


class PointPooled2d(nn.Module):
    """Point readout with average-pooling pyramid (Sinz 2018)."""

    def __init__(self, in_shape, outdims, pool_steps=2, pool_kern=3):
        super().__init__()
        c, h, w = in_shape
        self.in_shape, self.outdims, self.pool_steps = in_shape, outdims, pool_steps
        self.grid = Parameter(torch.zeros(1, outdims, 1, 2))
        self.features = Parameter(torch.zeros(1, c * (pool_steps + 1), 1, outdims))
        self.bias = Parameter(torch.zeros(outdims))
        self.avg = nn.AvgPool2d((pool_kern, pool_kern), stride=pool_kern, count_include_pad=False)

    def forward(self, x, z=None, shift=None):
        self.grid.data = torch.clamp(self.grid.data, -1, 1)
        B, c = x.shape[:2]
        m, n = self.pool_steps + 1, self.outdims
        feat = self.features.view(1, m * c, n)
        grid = self.grid.expand(B, n, 1, 2)
        if shift is not None:
            grid = grid + shift[:, None, None, :]
        pools = [F.grid_sample(x, grid, align_corners=True)]
        for _ in range(self.pool_steps):
            x = self.avg(x)
            pools.append(F.grid_sample(x, grid, align_corners=True))
        y = torch.cat(pools, dim=1)
        y = (y.squeeze(-1) * feat).sum(1).view(B, n)
        return y + self.bias

    def regularizer(self):
        return self.features.abs().sum()


class MultiReadout(nn.ModuleDict):
    def __init__(self, gamma_readout):
        super().__init__()
        self.gamma_readout = gamma_readout

    def regularizer(self, key):
        return self.gamma_readout * self[key].regularizer()


# ------------------------------------------------------- shifter and modulator


def _mlp(widths, act, last_act):
    """A torch Sequential of Linear layers widths[i] -> widths[i+1], each followed by act() (the
    last by last_act(), None: none), indexed as nsid names them (src/nn/shifter.h)."""
    mods = []
    for i in range(len(widths) - 1):
        mods.append(nn.Linear(widths[i], widths[i + 1]))
        a = last_act if i == len(widths) - 2 else act
        if a is not None:
            mods.append(a())
    return nn.Sequential(*mods)


class MLPShifter(nn.Module):
    """Pupil centre (B,2) -> shift (B,2) of every sampling position: [Linear, Tanh] layers."""

    def __init__(self, widths=(2, 2)):
        super().__init__()
        self.mlp = _mlp(list(widths), nn.Tanh, nn.Tanh)

    def forward(self, pupil_center):
        return self.mlp(pupil_center)


class MLPModulator(nn.Module):
    """Behaviour (B,3) -> gain (B,N) = ELU(MLP) + 1, [Linear, ReLU] layers (final_relu: the last too)."""

    def __init__(self, widths, final_relu=True):
        super().__init__()
        self.modulator_networks = nn.ModuleList([_mlp(list(widths), nn.ReLU, nn.ReLU if final_relu else None)])

    def forward(self, behavior):
        return F.elu(self.modulator_networks[0](behavior)) + 1


class Encoder(nn.Module):
    """core -> (detach) -> readout[key] (shifted by shifter[key](pupil_center)) -> ELU + 1
    (x modulator[key](behavior))."""

    def __init__(self, core, readout, shifter=None, modulator=None):
        super().__init__()
        self.core, self.readout = core, readout
        self.shifter, self.modulator = shifter, modulator

    def forward(self, x, data_key, detach_core=False, z=None, pupil_center=None, behavior=None):
        x = self.core(x)
        if detach_core:
            x = x.detach()
        shift = None
        if self.shifter is not None:
            if pupil_center is None:
                raise ValueError(f"{data_key}: this model has a shifter: pass pupil_center (B,2)")
            shift = self.shifter[data_key](pupil_center)
        y = F.elu(self.readout[data_key](x, z=z, shift=shift)) + 1
        if self.modulator is not None:
            if behavior is None:
                raise ValueError(f"{data_key}: this model has a modulator: pass behavior (B,3)")
            y = y * self.modulator[data_key](behavior)
        return y


# ---------------------------------------------------- from a checkpoint's record


def _mlp_widths(shape, prefix):
    """Widths of the Linear layers named prefix.<i>.weight, in index order."""
    ws = sorted((int(n[len(prefix):].split(".")[0]), s) for n, s in shape.items()
                if n.startswith(prefix) and n.endswith(".weight"))
    if not ws:
        raise ValueError(f"{prefix}*: no Linear weights in the checkpoint")
    return [ws[0][1][1]] + [s[0] for _, s in ws]


def build_from_arch(arch, state):
    """An Encoder for the model part of an architecture record (nsid-model or nsid-taskdriven; see
    checkpoint.infer_model_arch) whose tensor shapes are those of state (name -> array). Readout
    shapes (channels, map size, shared ids) are read from state; values are not loaded."""
    shape = {n: tuple(np.shape(t)) for n, t in state.items()}
    fmt = arch.get("format")
    rc = arch.get("readout") or {}
    c = arch.get("core") or {}
    if fmt == "nsid-taskdriven":
        core = VGG16Core(momentum=float(c.get("bn_momentum", 0.1)), eps=float(c.get("bn_eps", 1e-5)))
    elif fmt == "nsid-model":
        core = SE2dCore(int(c["input_channels"]), int(c["hidden_channels"]), int(c["input_kern"]),
                        int(c["hidden_kern"]), int(c["layers"]), float(c.get("gamma_input", 1.0)),
                        float(c.get("bn_momentum", 0.9)), bool(c.get("pad_input", False)),
                        bool(c.get("depth_separable", True)), float(c.get("bn_eps", 1e-5)))
    else:
        raise ValueError(f"architecture format {fmt!r}: expected nsid-model or nsid-taskdriven "
                         "(an nsid-train checkpoint)")
    kind = rc.get("kind", "gaussian")
    ro = MultiReadout(float(rc.get("gamma_readout", 0.0)))
    owner = None
    for s in arch.get("scans") or []:
        key, n = s["data_key"], int(s["neurons"])
        p = f"readout.{key}."
        share = p + "feature_sharing_index" in shape
        if kind == "gaussian":
            f = shape[p + "_features"]
            sg = np.zeros((n, 2), np.float32) if rc.get("grid_mean_predictor", True) else None
            r = FullGaussian2d((f[1], 0, 0), n, source_grid=sg, hidden_layers=int(rc.get("gmp_hidden_layers", 0)),
                               hidden_features=int(rc.get("gmp_hidden_features", 0)),
                               final_tanh=bool(rc.get("gmp_final_tanh", False)),
                               n_ids=f[3] if share else None,
                               shared_features=owner._features if (share and owner is not None) else None)
        elif kind == "factorized":
            f, sp = shape[p + "_features"], shape[p + "spatial"]
            r = FullSXF((f[1], sp[1], sp[2]), n, normalize=bool(rc.get("normalize", False)),
                        n_ids=f[0] if share else None,
                        shared_features=owner._features if (share and owner is not None) else None)
        elif kind == "pointpooled":
            steps = int(rc.get("pool_steps", 2))
            r = PointPooled2d((shape[p + "features"][1] // (steps + 1), 0, 0), n, steps, int(rc.get("pool_kern", 3)))
        else:
            raise ValueError(f"readout kind {kind!r}: expected gaussian, factorized or pointpooled")
        ro.add_module(key, r)
        owner = owner or r
    shifter = modulator = None
    keys = [s["data_key"] for s in arch.get("scans") or []]
    if arch.get("shifter"):
        shifter = nn.ModuleDict({k: MLPShifter(_mlp_widths(shape, f"shifter.{k}.mlp.")) for k in keys})
    if arch.get("modulator"):
        modulator = nn.ModuleDict({k: MLPModulator(_mlp_widths(shape, f"modulator.{k}.modulator_networks.0."))
                                   for k in keys})
    return Encoder(core, ro, shifter, modulator)


def to_torch_state(state, aliases):
    """numpy state -> OrderedDict of torch tensors, shared names sharing one tensor."""
    out = collections.OrderedDict()
    for name, a in state.items():
        if name in aliases:
            continue
        out[name] = torch.from_numpy(np.array(a, order="C"))  # keeps 0-d scalars 0-d
    for name, target in aliases.items():
        out[name] = out[target]
    # Keep the file's name order (shared names at their sorted place too).
    return collections.OrderedDict((n, out[n]) for n in state)


def load_model(path, dtype=torch.float32):
    """A trained nsid model as a ready torch.nn.Module in evaluation mode.

    path: an nsid checkpoint (nsid-train's checkpoint.h5). The module is built from the
    architecture the checkpoint records (an nsid-run record; or, for a converted checkpoint
    without one, inferred from its tensors) and every tensor is loaded strictly, under the
    neuralpredictors v0.0.x names. Call it as model(images, data_key) -> (B, N) responses
    (pupil_center= and behavior= as well with a shifter or modulator); inputs as nsid's model
    sees them (nsid.load_inputs). Attributes: arch (the model record), config (the run
    configuration, {} if not recorded), data_keys (readouts in order), neuron_ids (data key ->
    unit ids of the readout's neurons, where recorded)."""
    state, arch_text, aliases, _ = ck.read_checkpoint(path)
    arch = ck.parse_arch(arch_text, f"{path}: architecture")
    config = ck.run_config(arch)
    march = ck.model_arch(arch)
    if march.get("format") not in ("nsid-model", "nsid-taskdriven"):
        march = ck.infer_model_arch(state, config)
    try:
        model = build_from_arch(march, state)
        res = model.load_state_dict(to_torch_state(state, aliases), strict=False)
    except KeyError as e:  # a tensor the record needs is not there
        raise ValueError(f"{path}: the checkpoint does not fit the architecture it records: no tensor {e}") from None
    except RuntimeError as e:  # a shape that does not fit the record
        raise ValueError(f"{path}: the checkpoint does not fit the architecture it records: {e}") from None
    if res.missing_keys or res.unexpected_keys:
        raise ValueError(f"{path}: the checkpoint does not fit the architecture it records: "
                         f"missing {res.missing_keys[:4]}, unexpected {res.unexpected_keys[:4]}")
    model = model.to(dtype).eval()
    model.arch, model.config = march, config
    model.data_keys = [s["data_key"] for s in march.get("scans") or []]
    model.neuron_ids = ck.read_neuron_ids(path)
    return model
