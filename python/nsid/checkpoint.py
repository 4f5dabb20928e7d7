"""nsid.checkpoint - nsid HDF5 checkpoints as ordered name -> array mappings, and their architecture.

An nsid checkpoint (src/nn/checkpoint.h, docs/model.md) stores every tensor of a model under
its neuralpredictors v0.0.x state_dict name with '.' replaced by '/', float32 (int64 for
BatchNorm's num_batches_tracked and feature_sharing_index), in PyTorch's shape and row-major
order. Root attributes: magic "nsid-checkpoint", format_version 1, n_entries and
"architecture", the JSON text nsid-train records:

    {"format": "nsid-run", "config": <the run configuration>, "model": <the model's own JSON>}

with "model" {"format": "nsid-model", ...} (SE2d core) or {"format": "nsid-taskdriven", ...}
(VGG16 core). Tensors that share storage in PyTorch (a non-owner readout's _features under
feature sharing) are HDF5 hard links. /_optimizer (Adam state) and /_neurons (each readout's
unit ids) are nsid-only groups, not state_dict entries.

Needs numpy and h5py; the JSON helpers (parse_arch, model_arch, arch_from_config, ...) need
neither.
"""
import collections
import json
import os

MAGIC = "nsid-checkpoint"
VERSION = 1
OPT_GROUP = "_optimizer"
IDS_GROUP = "_neurons"
NSID_ONLY = (OPT_GROUP, IDS_GROUP)  # root groups that are not state_dict entries


def _np():
    import numpy as np

    return np


def _h5():
    import h5py

    return h5py


def _as_numpy(t):
    """A torch tensor or array-like -> numpy array (float32 / int64)."""
    np = _np()
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    a = np.asarray(t)
    if a.dtype.kind == "f":
        return a.astype(np.float32)
    if a.dtype.kind in "iub":
        return a.astype(np.int64)
    raise ValueError(f"unsupported dtype {a.dtype}")


def _shared_aliases(state):
    """name -> first name of a tensor sharing the same storage (torch tensors only)."""
    seen, alias = {}, {}
    for name, t in state.items():
        if not hasattr(t, "data_ptr") or t.numel() == 0:
            continue
        key = (t.data_ptr(), tuple(t.shape), tuple(t.stride()), str(t.dtype))
        if key in seen:
            alias[name] = seen[key]
        else:
            seen[key] = name
    return alias


def h5_create(path):
    """A new HDF5 file in the 1.10 format (one-chunk datasets need no B-tree, files
    ~4x smaller) whose objects carry no timestamps: the same content, the same bytes."""
    h5py = _h5()
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_LATEST)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl))


def h5_group(f, path):
    """The group at path, creating missing ones without timestamps."""
    h5py = _h5()
    g = f
    for part in [p for p in path.split("/") if p]:
        if part not in g:
            gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            gcpl.set_obj_track_times(False)
            h5py.h5g.create(g.id, part.encode(), gcpl=gcpl)
        g = g[part]
    return g


def h5_put(f, path, a, checksum=False):
    """A dataset at path (parents created), no timestamp; checksum: one chunk with Fletcher-32."""
    np = _np()
    parent, _, name = path.strip("/").rpartition("/")
    g = h5_group(f, parent)
    a = np.asarray(a)
    if checksum and a.ndim > 0:
        g.create_dataset(name, data=a, chunks=a.shape, fletcher32=True, track_times=False)
    else:
        g.create_dataset(name, data=a, track_times=False)


def _write_dataset(f, path, a):
    h5_put(f, path, a, checksum=a.dtype == _np().float32)


def write_checkpoint(path, state, arch="{}", optimizer=None, aliases=None):
    """Write an nsid checkpoint atomically.

    state: ordered mapping state_dict name -> tensor/array.
    arch: architecture text (JSON) stored as the "architecture" attribute.
    optimizer: None or {"step": int, "m": {name: array}, "v": {name: array}}.
    aliases: name -> target name to store as hard links; None detects tensors
    that share storage.
    """
    np = _np()
    if aliases is None:
        aliases = _shared_aliases(state)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with h5_create(tmp) as f:
            f.attrs["magic"] = np.bytes_(MAGIC)
            f.attrs["format_version"] = np.int32(VERSION)
            f.attrs["architecture"] = np.bytes_(arch)
            f.attrs["n_entries"] = np.int64(len(state))
            for name, t in state.items():
                if "/" in name:
                    raise ValueError(f"{name}: a state_dict name may not contain '/'")
                if name in aliases:
                    continue
                _write_dataset(f, "/" + name.replace(".", "/"), _as_numpy(t))
            for name, target in aliases.items():
                parent, _, leaf = name.replace(".", "/").rpartition("/")
                h5_group(f, parent)[leaf] = f["/" + target.replace(".", "/")]
            if optimizer is not None:
                g = h5_group(f, OPT_GROUP)
                g.attrs["step"] = np.int64(optimizer["step"])
                g.attrs["kind"] = np.bytes_("adam")
                for which in ("m", "v"):
                    for name, t in optimizer[which].items():
                        _write_dataset(g, f"{which}/" + name.replace(".", "/"), _as_numpy(t))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _attr_str(v):
    return v.decode() if isinstance(v, (bytes, _np().bytes_)) else str(v)


def _walk(group, prefix, out, skip_nsid_only):
    """Every dataset link (hard links included once per name), sorted by name."""
    h5py = _h5()
    for key in group:
        if skip_nsid_only and not prefix and key in NSID_ONLY:
            continue
        obj = group.get(key, getlink=False)
        name = prefix + key
        if isinstance(obj, h5py.Dataset):
            out.append((name, obj))
        else:
            _walk(obj, name + ".", out, False)


def _open_checked(path):
    """The checkpoint opened read-only after its magic and format version are checked."""
    f = _h5().File(path, "r")
    magic = _attr_str(f.attrs.get("magic", b""))
    if magic != MAGIC:
        f.close()
        raise ValueError(f"{path}: not an nsid checkpoint (magic {magic!r})")
    version = int(f.attrs.get("format_version", -1))
    if version != VERSION:
        f.close()
        raise ValueError(f"{path}: format_version {version}, this module reads {VERSION}")
    return f


def read_checkpoint(path, with_optimizer=False):
    """Read an nsid checkpoint.

    Returns (state, arch, aliases, optimizer): state is an OrderedDict
    name -> numpy array, arch the architecture text, aliases maps a name to the
    first name stored at the same HDF5 object, optimizer is None or {"step", "m", "v"}.
    """
    h5py = _h5()
    with _open_checked(path) as f:
        arch = _attr_str(f.attrs.get("architecture", b"{}"))
        entries = []
        _walk(f, "", entries, True)
        n_entries = int(f.attrs.get("n_entries", -1))
        if n_entries != len(entries):
            raise ValueError(f"{path}: n_entries says {n_entries}, file holds {len(entries)}")
        state, aliases, first = collections.OrderedDict(), {}, {}
        for name, d in entries:
            addr = h5py.h5o.get_info(d.id).addr
            if addr in first:
                aliases[name] = first[addr]
            else:
                first[addr] = name
            state[name] = d[()]
        optimizer = None
        if with_optimizer and OPT_GROUP in f:
            g = f[OPT_GROUP]
            optimizer = {"step": int(g.attrs["step"]), "m": {}, "v": {}}
            for which in ("m", "v"):
                items = []
                _walk(g[which], "", items, False)
                optimizer[which] = collections.OrderedDict((n, d[()]) for n, d in items)
    return state, arch, aliases, optimizer


def read_arch(path):
    """The architecture text of a checkpoint (without reading its tensors)."""
    with _open_checked(path) as f:
        return _attr_str(f.attrs.get("architecture", b"{}"))


def read_neuron_ids(path):
    """data key -> unit ids (int64 array) of each readout's neurons, from /_neurons ({} if absent)."""
    with _open_checked(path) as f:
        g = f.get(IDS_GROUP)
        return {} if g is None else {k: g[k][()] for k in g}


# ------------------------------------------------------------ architecture JSON


def parse_arch(text, where="architecture"):
    """Architecture text -> dict (a JSON object); ValueError naming where otherwise."""
    try:
        d = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{where}: a JSON object expected, got {type(d).__name__}")
    return d


def dump_arch(d):
    """dict -> the compact JSON text nsid writes (no spaces: nsid-eval reads "data_key":"...")."""
    return json.dumps(d, separators=(",", ":"), allow_nan=False)


def model_arch(arch):
    """The model part of an architecture dict: "model" of an nsid-run record, or arch itself."""
    if arch.get("format") == "nsid-run":
        return arch.get("model") or {}
    return arch


def run_config(arch):
    """The run configuration (nested dict) an nsid-run architecture records, else {}."""
    return (arch.get("config") or {}) if arch.get("format") == "nsid-run" else {}


def _set_path(d, dotted, value, where):
    parts = dotted.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise ValueError(f"{where}: {dotted}: {p} is both a value and a section")
    if parts[-1] in d:
        raise ValueError(f"{where}: {dotted}: given twice")
    d[parts[-1]] = value


def nest_config(flat_or_nested, where="config", prefix=""):
    """A configuration mapping with nested sections, dotted sections or dotted keys (all spellings
    docs/config.md allows, mixed) -> one nested dict."""
    out = {}

    def walk(m, pre):
        for k, v in m.items():
            key = f"{pre}.{k}" if pre else str(k)
            if isinstance(v, dict):
                walk(v, key)
            else:
                _set_path(out, key, v, where)

    if not isinstance(flat_or_nested, dict):
        raise ValueError(f"{where}: a mapping of configuration keys expected")
    walk(flat_or_nested, prefix)
    return out


def read_config_file(path):
    """A run configuration file (YAML or JSON, docs/config.md) -> nested dict. JSON is read by the
    json module; YAML needs PyYAML (Debian: python3-yaml)."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if path.endswith(".json") or text.lstrip().startswith("{"):
        return nest_config(parse_arch(text, path) if text.strip() else {}, path)
    try:
        import yaml
    except ImportError:
        raise ValueError(f"{path}: reading YAML needs PyYAML (Debian: python3-yaml); JSON works without it") from None
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: YAML syntax error: {e}") from None
    return nest_config(d or {}, path)


def _cfg(cfg, dotted, default):
    d = cfg
    for p in dotted.split("."):
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def readout_keys(names):
    """The data keys of the readouts among state_dict names (readout.<data_key>.bias; a data key has
    no '.'), in order."""
    return [n.split(".")[1] for n in names if n.startswith("readout.") and n.count(".") == 2 and n.endswith(".bias")]


def infer_model_arch(state, config=None):
    """The model part of an architecture ("nsid-model" or "nsid-taskdriven") from a state_dict's
    names and shapes, with what the tensors cannot tell (padding, normalisation, pooling kernel,
    final tanh, BatchNorm eps/momentum) from config (a nested run configuration) or its defaults.

    state: name -> anything with .shape. Readouts (and so the scans) are in state order."""
    cfg = config or {}
    shape = {n: tuple(getattr(t, "shape", ())) for n, t in state.items()}
    keys = readout_keys(shape)
    if not keys:
        raise ValueError("no readout in the state_dict (names readout.<data_key>.bias)")
    scans = [{"data_key": k, "neurons": shape[f"readout.{k}.bias"][0]} for k in keys]
    k0 = f"readout.{keys[0]}."
    if k0 + "spatial" in shape:
        kind = "factorized"
    elif k0 + "grid" in shape:
        kind = "pointpooled"
    elif k0 + "sigma" in shape:
        kind = "gaussian"
    else:
        raise ValueError(f"readout.{keys[0]}: not a gaussian, factorized or point-pooled readout")
    gmp = [n for n in shape if n.startswith(k0 + "mu_transform.") and n.endswith(".weight")]
    readout = {
        "kind": kind,
        "gamma_readout": _cfg(cfg, "model.readout.gamma", 0.0),
        "share_features": k0 + "feature_sharing_index" in shape,
        "grid_mean_predictor": bool(gmp),
        "gmp_hidden_layers": max(len(gmp) - 1, 0),
        "gmp_hidden_features": shape[gmp[0]][0] if len(gmp) > 1 else 0,
        "gmp_final_tanh": bool(_cfg(cfg, "model.readout.grid_final_tanh", False)),
        "normalize": bool(_cfg(cfg, "model.readout.normalize", False)),
        "pool_steps": int(_cfg(cfg, "model.readout.pool_steps", 2)),
        "pool_kern": int(_cfg(cfg, "model.readout.pool_kern", 3)),
    }
    extras = {"shifter": any(n.startswith("shifter.") for n in shape),
              "modulator": any(n.startswith("modulator.") for n in shape)}
    if "core.features.TransferLearning.0.weight" in shape:
        return dict({"format": "nsid-taskdriven",
                     "core": {"type": "vgg16", "layers": 8,
                              "bn_momentum": float(_cfg(cfg, "model.core.vgg_bn_momentum", 0.1)),
                              "bn_eps": float(_cfg(cfg, "model.core.bn_eps", 1e-5)),
                              "image": [shape["core.features.TransferLearning.0.weight"][1] // 3, 0, 0]},
                     "readout": readout}, scans=scans)
    if "core.features.layer0.conv.weight" not in shape:
        raise ValueError("no core in the state_dict (core.features.layer0.conv.weight or "
                         "core.features.TransferLearning.0.weight)")
    w0 = shape["core.features.layer0.conv.weight"]
    layers = sum(1 for n in shape if n.startswith("core.features.layer") and n.endswith(".norm.weight"))
    ds = "core.features.layer1.ds_conv.spatial_conv.weight" in shape
    hidden = shape.get("core.features.layer1.ds_conv.spatial_conv.weight" if ds else "core.features.layer1.conv.weight")
    hk = hidden[-1] if hidden else int(_cfg(cfg, "model.core.hidden_kern", 13))  # one layer: no hidden kernel
    core = {"input_channels": w0[1], "layers": layers, "hidden_channels": w0[0], "input_kern": w0[-1],
            "hidden_kern": hk, "pad_input": bool(_cfg(cfg, "model.core.pad_input", False)),
            "depth_separable": ds if layers > 1 else bool(_cfg(cfg, "model.core.depth_separable", True)),
            "bn_momentum": float(_cfg(cfg, "model.core.bn_momentum", 0.9)),
            "bn_eps": float(_cfg(cfg, "model.core.bn_eps", 1e-5)),
            "gamma_input": float(_cfg(cfg, "model.core.gamma_input", 1.0))}
    return dict({"format": "nsid-model", "image": [w0[1], 0, 0], "core": core, "readout": readout}, **extras,
                scans=scans)


def arch_from_config(config, state):
    """The architecture record of a model given as a state_dict and its run configuration (nested
    dict, e.g. read_config_file): {"format": "nsid-run", "config": config, "model": inferred}.
    Image sizes the tensors do not tell are 0."""
    return {"format": "nsid-run", "config": config, "model": infer_model_arch(state, config)}
