#!/usr/bin/python3
"""Write the data fixtures of tests/test_data*.c, test_npy.c and test_h5scan.c.

Run with Debian's python3-numpy and python3-h5py (never in CI; the outputs are
committed):

    /usr/bin/python3 tests/gen_data_fixtures.py

Outputs (tests/fixtures/data/):
  static11111-1-1-preproc0.h5   a tiny StaticImageSet as the authors' HDF5 files
                                hold it: byte-string tiers and item_info strings
                                (fixed length, h5py 'S'), numeric metadata of
                                several dtypes, statistics/<d>/<all|stimulus_frame>/...
  static11111-1-1-preproc0/     the same scan as a FileTreeDataset, written the
                                way neuralpredictors' convert_static_h5_dataset_to_folder
                                does it (np.save per trial, byte strings saved as
                                numpy str '<U', statistics names lower-cased), plus
                                the config.json FileTreeDataset creates
  static22222-2-2-preproc0.h5   the same scan with variable-length UTF-8 strings
                                (h5py.string_dtype()), a bool and a non-ASCII field
  npy/                          single .npy files: every dtype nsid reads, big-endian
                                and Fortran-order variants, format versions 1.0/2.0/3.0,
                                and files nsid must refuse (object, structured,
                                float16, complex, rank 5, truncated, bad magic)
  expected.txt                  a few numbers the C tests compare against
"""
import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np

OUT = Path(__file__).resolve().parent / "fixtures" / "data"

T, N, C, H, W = 24, 7, 1, 6, 8


def scan_arrays():
    """The tiny scan: 14 train, 4 validation, 6 test trials (3 images x 2 repeats)."""
    rng = np.random.RandomState(7)
    tiers = np.array(["train"] * 14 + ["validation"] * 4 + ["test"] * 6)
    order = rng.permutation(T)  # tiers interleaved, as in recorded scans
    tiers = tiers[order]
    frame_image_id = np.zeros(T, dtype=np.int64)
    uid = 100
    test_ids = [900, 901, 902]
    k = 0
    for i in range(T):
        if tiers[i] == "test":
            frame_image_id[i] = test_ids[k % 3]
            k += 1
        else:
            frame_image_id[i] = uid
            uid += 1
    images = rng.randint(0, 256, size=(T, C, H, W)).astype(np.float32)
    responses = rng.gamma(1.0, 1.0, size=(T, N)).astype(np.float32)
    responses[:, 3] *= 5.0  # a loud neuron: its std differs from the others
    behavior = rng.rand(T, 3).astype(np.float32) * np.float32([10, 1, 20])
    pupil_center = rng.randn(T, 2).astype(np.float32) + np.float32([30, 20])
    item_info = {
        "frame_image_id": frame_image_id,
        "frame_image_class": np.array(["imagenet"] * T).astype("S"),
        "trial_idx": np.arange(T, dtype=np.int64) * 3,
        "condition_hash": np.array(["h%03d" % v for v in frame_image_id]).astype("S"),
        "frame_trial_ts": np.linspace(0.0, 1e3, T).astype(np.float64),
    }
    neurons = {
        "unit_ids": np.arange(1, N + 1, dtype=np.int64) * 10,
        "animal_ids": np.full(N, 11111, dtype=np.uint16),
        "sessions": np.full(N, 1, dtype=np.int32),
        "scan_idx": np.full(N, 1, dtype=np.int8),
        "area": np.array(["V1"] * N).astype("S"),
        "layer": np.array(["L2/3"] * N).astype("S"),
        "cell_motor_coordinates": (rng.rand(N, 3) * 500).astype(np.float64),
        "multi_match_id": np.array([5, -1, 7, 3, -1, 9, 1], dtype=np.int64),
        "multi_unit_stack_coordinates": (rng.rand(N, 3) * 500).astype(np.float32),
    }
    data = {"images": images, "responses": responses, "behavior": behavior, "pupil_center": pupil_center}
    return tiers, data, item_info, neurons


def statistics(data):
    """statistics/<d>/<all|stimulus_frame>/<m>: images scalars, others per column."""
    st = {}
    for k, v in data.items():
        axis = None if k == "images" else 0
        for src in ["all", "stimulus_frame"]:
            st[k + "/" + src] = {
                "mean": np.mean(v, axis=axis),
                "std": np.std(v, axis=axis),
                "min": np.min(v, axis=axis),
                "max": np.max(v, axis=axis),
                "median": np.median(v, axis=axis),
            }
    return st


def write_h5(path, vlen):
    tiers, data, item_info, neurons = scan_arrays()
    st = statistics(data)
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            f.create_dataset(k, data=v)
        if vlen:
            f.create_dataset("tiers", data=tiers.astype(object), dtype=h5py.string_dtype())
        else:
            f.create_dataset("tiers", data=tiers.astype("S"))
        g = f.create_group("item_info")
        for k, v in item_info.items():
            if vlen and v.dtype.char == "S":
                g.create_dataset(k, data=v.astype(str).astype(object), dtype=h5py.string_dtype())
            else:
                g.create_dataset(k, data=v)
        if vlen:
            g.create_dataset("is_blank", data=np.arange(T) % 5 == 0)
            g.create_dataset("label", data=np.array(["grün"] * T, dtype=object), dtype=h5py.string_dtype())
        g = f.create_group("neurons")
        for k, v in neurons.items():
            g.create_dataset(k, data=v)
        for path2, d in st.items():
            for m, v in d.items():
                f.create_dataset("statistics/" + path2 + "/" + m, data=v)


def savenpy(path, val):
    """neuralpredictors' _savenpy: byte strings become numpy str."""
    if not np.isscalar(val) and val.ndim and val[0].dtype.char == "S":
        val = val.astype(str)
    np.save(path, val)


def convert_h5_to_tree(h5path, outpath):
    """What neuralpredictors.data.utils.convert_static_h5_dataset_to_folder writes."""
    with h5py.File(h5path, "r") as fid:
        for data_key in ["images", "responses", "behavior", "pupil_center"]:
            sub = outpath / "data" / data_key
            sub.mkdir(parents=True, exist_ok=True)
            for i, value in enumerate(fid[data_key]):
                np.save(sub / "{}.npy".format(i), value)
        sub = outpath / "meta" / "trials"
        sub.mkdir(parents=True, exist_ok=True)
        savenpy(sub / "tiers.npy", fid["tiers"][()])
        for meta_type, target in zip(["item_info", "neurons"], ["trials", "neurons"]):
            for key in fid[meta_type].keys():
                sub = outpath / "meta" / target
                sub.mkdir(parents=True, exist_ok=True)
                savenpy(sub / "{}.npy".format(key), fid[meta_type][key][()])

        def visit(name, node):
            name = name.replace(".", "_").lower()
            if not isinstance(node, h5py.Dataset):
                (outpath / "meta/statistics" / name).mkdir(parents=True, exist_ok=True)
            else:
                savenpy(outpath / "meta/statistics" / "{}.npy".format(name), node[()])

        fid["statistics"].visititems(visit)
    # FileTreeDataset creates this on first use (json.dump of its default config).
    with open(outpath / "config.json", "w") as f:
        json.dump({"links": {}}, f)


def write_npy_set(d):
    d.mkdir(parents=True, exist_ok=True)
    shape = (2, 3, 4)
    n = 24
    base = np.arange(n)
    good = {
        "f4_le": base.astype("<f4"), "f4_be": base.astype(">f4"),
        "f8_le": base.astype("<f8"), "f8_be": base.astype(">f8"),
        "i1": base.astype("i1"), "i2_le": base.astype("<i2"), "i2_be": base.astype(">i2"),
        "i4_le": base.astype("<i4"), "i4_be": base.astype(">i4"),
        "i8_le": base.astype("<i8"), "i8_be": base.astype(">i8"),
        "u1": base.astype("u1"), "u2_le": base.astype("<u2"), "u2_be": base.astype(">u2"),
        "u4_le": base.astype("<u4"), "u8_be": base.astype(">u8"),
    }
    for k, v in good.items():
        np.save(d / (k + "_c.npy"), v.reshape(shape))
        np.save(d / (k + "_f.npy"), np.asfortranarray(v.reshape(shape)))
    np.save(d / "b1.npy", (base % 3 == 0).reshape(4, 6))
    np.save(d / "b1_f.npy", np.asfortranarray((base % 3 == 0).reshape(4, 6)))
    np.save(d / "scalar_f8.npy", np.float64(2.5))
    np.save(d / "empty_f4.npy", np.zeros((0,), "<f4"))
    np.save(d / "f4_4d.npy", base.astype("<f4").reshape(1, 2, 3, 4))
    words = np.array(["train", "validation", "test", "grün", ""])
    np.save(d / "U_le.npy", words)
    np.save(d / "U_be.npy", words.astype(">U10"))
    np.save(d / "U_f.npy", np.asfortranarray(np.array([["a", "bb", "ccc"], ["dddd", "é", "ff"]])))
    np.save(d / "S.npy", np.array([b"train", b"test", b"x\x00y", b"validation"]))
    for ver in [(1, 0), (2, 0), (3, 0)]:
        with open(d / ("v%d%d.npy" % ver), "wb") as f:
            np.lib.format.write_array(f, base.astype("<f4").reshape(shape), version=ver)
    with open(d / "v30_unicode_field.npy", "wb") as f:  # v3.0: utf-8 header (field names)
        np.lib.format.write_array(f, np.zeros(2, dtype=[("ä", "<f4")]), version=(3, 0))
    # Refused: object, structured, float16, complex, rank 5, datetime.
    np.save(d / "bad_object.npy", np.array([1, "a", None], dtype=object), allow_pickle=True)
    np.save(d / "bad_struct.npy", np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]))
    np.save(d / "bad_f2.npy", base.astype("<f2"))
    np.save(d / "bad_c8.npy", base.astype("<c8"))
    np.save(d / "bad_rank5.npy", np.zeros((1, 1, 1, 1, 2), "<f4"))
    np.save(d / "bad_datetime.npy", np.array(["2020-01-01"], dtype="datetime64[D]"))
    raw = (d / "f4_le_c.npy").read_bytes()
    (d / "bad_truncated_data.npy").write_bytes(raw[:-10])
    (d / "bad_truncated_header.npy").write_bytes(raw[:40])
    (d / "bad_magic.npy").write_bytes(b"\x93NUMPX" + raw[6:])
    (d / "bad_header.npy").write_bytes(raw.replace(b"'shape': (2, 3, 4)", b"'shape': (2, 3; 4)"))


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    h5a = OUT / "static11111-1-1-preproc0.h5"
    write_h5(h5a, vlen=False)
    convert_h5_to_tree(h5a, OUT / "static11111-1-1-preproc0")
    write_h5(OUT / "static22222-2-2-preproc0.h5", vlen=True)
    write_npy_set(OUT / "npy")
    tiers, data, item_info, neurons = scan_arrays()
    st = statistics(data)
    with open(OUT / "expected.txt", "w") as f:
        f.write("# numbers the C tests compare against (gen_data_fixtures.py)\n")
        f.write("trials %d neurons %d\n" % (T, N))
        f.write("tier_counts %d %d %d\n" % tuple(int((tiers == t).sum()) for t in ["train", "validation", "test"]))
        f.write("first_tiers %s\n" % " ".join(tiers[:6]))
        f.write("responses_sum %.9g\n" % float(data["responses"].astype(np.float64).sum()))
        f.write("images_sum %.9g\n" % float(data["images"].astype(np.float64).sum()))
        f.write("responses_std %s\n" % " ".join("%.9g" % v for v in st["responses/all"]["std"]))
        f.write("images_mean %.9g std %.9g\n" % (st["images/all"]["mean"], st["images/all"]["std"]))
        f.write("behavior_std %s\n" % " ".join("%.9g" % v for v in st["behavior/all"]["std"]))
        f.write("test_frame_ids %s\n" % " ".join(str(v) for v in item_info["frame_image_id"][tiers == "test"]))
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print("wrote", OUT, "(%d files, %d bytes)" % (sum(1 for p in OUT.rglob("*") if p.is_file()), total))


if __name__ == "__main__":
    main()
