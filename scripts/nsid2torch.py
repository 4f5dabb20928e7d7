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

    # a whole model back to nsid, its architecture record from the checkpoint it came
    # from, or built from a run configuration (YAML/JSON) and the tensors:
    scripts/nsid2torch.py --from-torch model.pt back.h5 --arch-from checkpoint.h5
    scripts/nsid2torch.py --from-torch model.pt back.h5 --arch-from run.yaml

Tensors that share storage in PyTorch (a non-owner readout's _features under
feature sharing) become HDF5 hard links, as nsid writes them; --to-torch
restores the sharing. Adam state (/_optimizer) is nsid training state and the
neurons' identity (/_neurons: each readout's unit ids) nsid's load check; neither
is part of a state_dict: --to-torch ignores them, and --from-torch writes neither
(nsid then loads the readouts with a warning that their neurons could not be
checked against the scan's unit ids).

The checkpoint code is the nsid Python module's (python/nsid/checkpoint.py,
docs/python.md). Needs numpy and h5py; torch only for reading or writing .pt
files; PyYAML for a YAML configuration. It names /usr/bin/python3, Debian's
interpreter of python3-h5py, python3-numpy and python3-torch (the first python3
on PATH may be another one without them).
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from nsid import checkpoint as _ck  # noqa: E402  (standard library only at import)
from nsid.checkpoint import (MAGIC, NSID_ONLY, OPT_GROUP, IDS_GROUP, VERSION, h5_create, h5_group,  # noqa: E402,F401
                             h5_put, read_checkpoint, write_checkpoint)

NSID_FORMATS = ("nsid-run", "nsid-model", "nsid-taskdriven")


def to_torch_state(state, aliases):
    """numpy state -> OrderedDict of torch tensors, shared names sharing one tensor."""
    from nsid.model import to_torch_state as f

    return f(state, aliases)


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


def _is_hdf5(path):
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89HDF\r\n\x1a\n"


def arch_for(state, arch_text=None, arch_from=None):
    """The architecture text to record for state: --arch text (any JSON, re-written compact),
    --arch-from a checkpoint (its record) or a file (an architecture record, or a run configuration
    from which the record is built with the tensors' shapes); without either, the model part
    inferred from the tensors of a whole model, or "{}" (a bare core)."""
    if arch_text is not None:
        if arch_text.startswith("@"):
            with open(arch_text[1:], encoding="utf-8") as fh:
                arch = _ck.parse_arch(fh.read(), arch_text[1:])
        else:
            arch = _ck.parse_arch(arch_text, "--arch")
        where = "--arch"
    elif arch_from is not None:
        where = arch_from
        if _is_hdf5(arch_from):
            arch = _ck.parse_arch(_ck.read_arch(arch_from), f"{arch_from}: architecture")
        else:
            cfg = _ck.read_config_file(arch_from)
            arch = cfg if cfg.get("format") in NSID_FORMATS else _ck.arch_from_config(cfg, state)
    else:
        try:
            return _ck.dump_arch(_ck.infer_model_arch(state))
        except ValueError:  # a bare core, or names nsid does not know
            return "{}"
    rec = [s.get("data_key") for s in _ck.model_arch(arch).get("scans") or [] if isinstance(s, dict)]
    have = _ck.readout_keys(state)
    if rec and have and rec != have:
        raise ValueError(f"{where}: the architecture's scans {rec} are not the state_dict's readouts {have}")
    return _ck.dump_arch(arch)


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
    arch = ap.add_mutually_exclusive_group()
    arch.add_argument("--arch", default=None, help="--from-torch: architecture JSON (text or @file)")
    arch.add_argument("--arch-from", default=None, metavar="FILE",
                      help="--from-torch: the architecture of an nsid checkpoint.h5, or built from a run "
                           "configuration (YAML/JSON) and the tensors")
    ap.add_argument("--list", action="store_true", help="print name, dtype and shape of every tensor")
    args = ap.parse_args(argv)
    try:
        import h5py  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        print(f"nsid2torch: {e} (Debian: apt-get install python3-h5py python3-numpy)", file=sys.stderr)
        return 1
    if args.to_torch and (args.arch is not None or args.arch_from is not None):
        ap.error("--arch and --arch-from go with --from-torch")

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
            write_checkpoint(args.output, state, arch=arch_for(state, args.arch, args.arch_from))
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
