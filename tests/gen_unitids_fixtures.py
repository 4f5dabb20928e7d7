#!/usr/bin/python3
# gen_unitids_fixtures.py - the edited scans of tests/test_unitids_cli.sh, generated once and
# committed (CI needs no Python): tests/fixtures/data/static22222-2-2-preproc0.h5 with its neurons
# edited along every per-neuron axis (neurons/*, responses, statistics/responses/*):
#   reverse  the neurons in reverse order
#   fewer    the last neuron left out
#   more     a copy of the last neuron under a new unit id appended
#   other    the last neuron replaced by one under a new unit id (another subset, same size)
# Run from the repository root: /usr/bin/python3 tests/gen_unitids_fixtures.py
import os
import shutil
import sys

import h5py
import numpy as np

SCAN = "static22222-2-2-preproc0.h5"
SRC = os.path.join("tests", "fixtures", "data", SCAN)
OUT = os.path.join("tests", "fixtures", "unitids")


def edit(mode, src, dst):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        n = f["neurons/unit_ids"].shape[0]
        idx = {"reverse": np.arange(n)[::-1], "fewer": np.arange(n - 1), "more": np.r_[np.arange(n), n - 1],
               "other": np.arange(n)}[mode]
        def redo(name, axis):
            d = f[name]
            a = np.take(d[()], idx, axis=axis)
            if mode in ("more", "other") and name == "neurons/unit_ids":
                a[-1] = a.max() + 1000  # a neuron the checkpoint never saw
            attrs = dict(d.attrs)
            del f[name]
            f.create_dataset(name, data=a)
            for k, v in attrs.items():
                f[name].attrs[k] = v
        for name in list(f["neurons"]):
            redo("neurons/" + name, 0)
        redo("responses", 1)
        def stats(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.shape == (n,):
                names.append("statistics/responses/" + name)
        names = []
        f["statistics/responses"].visititems(stats)
        for name in names:
            redo(name, 0)


if __name__ == "__main__":
    for mode in ("reverse", "fewer", "more", "other"):
        os.makedirs(os.path.join(OUT, mode), exist_ok=True)
        edit(mode, SRC, os.path.join(OUT, mode, SCAN))
    sys.exit(0)
