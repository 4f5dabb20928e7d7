#!/usr/bin/python3
"""nsid2torch.py - convert between nsid HDF5 checkpoints and PyTorch state_dicts.

An nsid checkpoint (src/nn/checkpoint.h) stores every tensor of a model under
its neuralpredictors v0.0.x state_dict name with '.' replaced by '/', float32
(int64 for BatchNorm's num_batches_tracked and feature_sharing_index), in
PyTorch's shape and row-major order. This script maps one onto the other:

    # nsid -> PyTorch: torch.load(out.pt) is an OrderedDict for
    # model.load_state_dict (neuralpredictors' Encoder / SE2dCore / readouts)
    scripts/nsid2torch.py --to-torch results/runs/<id>/checkpoint.h5 model.pt

    # PyTorch -> nsid, e.g. the authors' released core (keys "features...."):
    scripts/nsid2torch.py --from-torch lurz_model_core.pt core.h5 --add-prefix core.
    # then load it into an nsid model with prefix "core." (transfer)

Tensors that share storage in PyTorch (a non-owner readout's _features under
feature sharing) become HDF5 hard links, as nsid writes them; --to-torch
restores the sharing. Adam state (/_optimizer) is nsid training state and the
neurons' identity (/_neurons: each readout's unit ids) nsid's load check; neither
is part of a state_dict: --to-torch ignores them, and --from-torch writes neither
(nsid then loads the readouts with a warning that their neurons could not be
checked against the scan's unit ids).

Needs numpy and h5py; torch only for reading or writing .pt files. It names
/usr/bin/python3, Debian's interpreter of python3-h5py, python3-numpy and
python3-torch (the first python3 on PATH may be another one without them).
"""
import argparse
import collections
import json
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError as _e:  # --help works without them; a conversion says what is missing
    h5py = np = None
    _IMPORT_ERROR = _e

MAGIC = "nsid-checkpoint"
VERSION = 1
OPT_GROUP = "_optimizer"
IDS_GROUP = "_neurons"
NSID_ONLY = (OPT_GROUP, IDS_GROUP)  # root groups that are not state_dict entries


def _as_numpy(t):
    """A torch tensor or array-like -> numpy array (float32 / int64)."""
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
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V110, h5py.h5f.LIBVER_LATEST)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    return h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl))


def h5_group(f, path):
    """The group at path, creating missing ones without timestamps."""
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
    parent, _, name = path.strip("/").rpartition("/")
    g = h5_group(f, parent)
    a = np.asarray(a)
    if checksum and a.ndim > 0:
        g.create_dataset(name, data=a, chunks=a.shape, fletcher32=True, track_times=False)
    else:
        g.create_dataset(name, data=a, track_times=False)


def _write_dataset(f, path, a):
    h5_put(f, path, a, checksum=a.dtype == np.float32)


def write_checkpoint(path, state, arch="{}", optimizer=None, aliases=None):
    """Write an nsid checkpoint atomically.

    state: ordered mapping state_dict name -> tensor/array.
    arch: architecture text (JSON) stored as the "architecture" attribute.
    optimizer: None or {"step": int, "m": {name: array}, "v": {name: array}}.
    aliases: name -> target name to store as hard links; None detects tensors
    that share storage.
    """
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
    return v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v)


def _walk(group, prefix, out, skip_nsid_only):
    """Every dataset link (hard links included once per name), sorted by name."""
    for key in group:
        if skip_nsid_only and not prefix and key in NSID_ONLY:
            continue
        obj = group.get(key, getlink=False)
        name = prefix + key
        if isinstance(obj, h5py.Dataset):
            out.append((name, obj))
        else:
            _walk(obj, name + ".", out, False)


def read_checkpoint(path, with_optimizer=False):
    """Read an nsid checkpoint.

    Returns (state, arch, aliases, optimizer): state is an OrderedDict
    name -> numpy array, aliases maps a name to the first name stored at the
    same HDF5 object, optimizer is None or {"step", "m", "v"}.
    """
    with h5py.File(path, "r") as f:
        magic = _attr_str(f.attrs.get("magic", b""))
        if magic != MAGIC:
            raise ValueError(f"{path}: not an nsid checkpoint (magic {magic!r})")
        version = int(f.attrs.get("format_version", -1))
        if version != VERSION:
            raise ValueError(f"{path}: format_version {version}, this script reads {VERSION}")
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


def to_torch_state(state, aliases):
    """numpy state -> OrderedDict of torch tensors, shared names sharing one tensor."""
    import torch

    out = collections.OrderedDict()
    for name, a in state.items():
        if name in aliases:
            continue
        out[name] = torch.from_numpy(np.array(a, order="C"))  # keeps 0-d scalars 0-d
    for name, target in aliases.items():
        out[name] = out[target]
    # Keep the file's name order (shared names at their sorted place too).
    return collections.OrderedDict((n, out[n]) for n in state)


def load_torch_state(path):
    """A .pt/.pth(.tar) file -> state_dict (unwrapping common checkpoint dicts)."""
    import torch

    obj = torch.load(path, map_location="cpu")
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model_state", "model"):
            if key in obj and isinstance(obj[key], dict):
                return obj[key]
        if all(hasattr(v, "shape") for v in obj.values()):
            return obj
    raise ValueError(f"{path}: no state_dict found (keys: {list(obj)[:8] if isinstance(obj, dict) else type(obj)})")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--to-torch", action="store_true", help="nsid checkpoint.h5 -> PyTorch state_dict .pt")
    mode.add_argument("--from-torch", action="store_true", help="PyTorch .pt -> nsid checkpoint.h5")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--add-prefix", default="", help="prepend to every name (e.g. 'core.' for a bare core)")
    ap.add_argument("--strip-prefix", default="", help="keep only names with this prefix and remove it")
    ap.add_argument("--arch", default=None, help="architecture JSON (text or @file) for --from-torch")
    ap.add_argument("--list", action="store_true", help="print name, dtype and shape of every tensor")
    args = ap.parse_args(argv)
    if h5py is None:
        print(f"nsid2torch: {_IMPORT_ERROR} (Debian: apt-get install python3-h5py python3-numpy)", file=sys.stderr)
        return 1

    def rename(names):
        out = {}
        for n in names:
            if args.strip_prefix:
                if not n.startswith(args.strip_prefix):
                    continue
                out[n] = args.add_prefix + n[len(args.strip_prefix):]
            else:
                out[n] = args.add_prefix + n
        return out

    try:
        if args.to_torch:
            state, arch, aliases, _ = read_checkpoint(args.input)
            import torch

            names = rename(state)
            state = collections.OrderedDict((names[n], state[n]) for n in state if n in names)
            aliases = {names[a]: names[t] for a, t in aliases.items() if a in names and t in names}
            out = to_torch_state(state, aliases)
            torch.save(out, args.output)
        else:
            src = load_torch_state(args.input)
            names = rename(src)
            state = collections.OrderedDict((names[n], src[n]) for n in src if n in names)
            arch = "{}"
            if args.arch:
                arch = open(args.arch[1:]).read() if args.arch.startswith("@") else args.arch
                json.loads(arch)
            write_checkpoint(args.output, state, arch=arch)
            out = state
        if args.list:
            for n, t in out.items():
                print(f"{n}\t{getattr(t, 'dtype', '')}\t{tuple(t.shape)}")
        print(f"{args.input} -> {args.output}: {len(out)} tensors", file=sys.stderr)
    except (OSError, ValueError, KeyError) as e:
        print(f"nsid2torch: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
