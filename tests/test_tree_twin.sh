#!/usr/bin/env bash
# test_tree_twin.sh - a file tree as numpy writes it and its nsid-convert'ed HDF5 twin train
# bit-identically: the same configuration on each gives the same checkpoint tensors, the same
# epoch records and the same metrics (the run ids differ: the scans' bytes differ). The tree
# is the authors' converter's (np.save per trial, tiers as numpy str '<U'), with every array of
# two or more dimensions rewritten in Fortran order (numpy.save of a Fortran-contiguous array:
# 'fortran_order': True, column-major data) and no meta/trials/frame_image_class.npy; the
# twin converted back is the C-order tree byte for byte. nsid-eval works on the tree.
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FIX=${NSID_FIXTURES:-$SRC/tests/fixtures}/data
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_twin_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
cd "$T" || exit 1
NAME=static11111-1-1-preproc0

# the C-order tree without frame_image_class, and its Fortran-order copy
mkdir c f
cp -r "$FIX/$NAME" c/
rm c/$NAME/meta/trials/frame_image_class.npy
cp -r c/$NAME f/
python3 - f/$NAME >fortran.log <<'EOF' || fail "rewriting the tree in Fortran order"
# Rewrite every .npy of rank >= 2 as numpy.save writes a Fortran-contiguous array (stdlib only).
import ast, os, struct, sys
n = 0
for dirpath, _, files in os.walk(sys.argv[1]):
    for name in files:
        if not name.endswith(".npy"):
            continue
        path = os.path.join(dirpath, name)
        raw = open(path, "rb").read()
        assert raw[:6] == b"\x93NUMPY"
        major = raw[6]
        hl, start = (struct.unpack("<H", raw[8:10])[0], 10) if major == 1 else (struct.unpack("<I", raw[8:12])[0], 12)
        head = ast.literal_eval(raw[start:start + hl].decode("latin1"))
        shape, descr = head["shape"], head["descr"]
        if len(shape) < 2 or head["fortran_order"]:
            continue
        data = raw[start + hl:]
        count = 1
        for s in shape:
            count *= s
        item = len(data) // count
        # element at C index (i0, i1, ...) goes to Fortran offset sum(i_k * prod(shape[:k]))
        out = bytearray(len(data))
        strides_f = [1] * len(shape)
        for k in range(1, len(shape)):
            strides_f[k] = strides_f[k - 1] * shape[k - 1]
        idx = [0] * len(shape)
        for c in range(count):
            off = sum(i * s for i, s in zip(idx, strides_f))
            out[off * item:(off + 1) * item] = data[c * item:(c + 1) * item]
            for k in range(len(shape) - 1, -1, -1):
                idx[k] += 1
                if idx[k] < shape[k]:
                    break
                idx[k] = 0
        text = "{'descr': %r, 'fortran_order': True, 'shape': %r, }" % (descr, tuple(shape))
        pad = 64 - (10 + len(text) + 1) % 64
        text = text + " " * (pad % 64) + "\n"
        with open(path, "wb") as fh:
            fh.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + bytes(out))
        n += 1
print(n)
EOF
check "arrays of rank >= 2 rewritten in Fortran order (24 images, coordinates): $(cat fortran.log)" \
    test "$(cat fortran.log)" -ge 24
check "an image file says fortran_order True" grep -q "'fortran_order': True" f/$NAME/data/images/0.npy
check "tiers are numpy str '<U'" grep -q "'descr': '<U" f/$NAME/meta/trials/tiers.npy
check "no frame_image_class" test ! -e f/$NAME/meta/trials/frame_image_class.npy

# the twin, and back: the Fortran tree reads as the C-order one
mkdir twin back
"$BIN/nsid-convert" f/$NAME twin/$NAME.h5 >convert.log 2>&1 || fail "nsid-convert: $(cat convert.log)"
"$BIN/nsid-convert" twin/$NAME.h5 back/$NAME >>convert.log 2>&1 || fail "nsid-convert back: $(cat convert.log)"
check "Fortran tree -> HDF5 -> tree is the C-order tree byte for byte" diff -r c/$NAME back/$NAME

# the same configuration on each
SMALL=(--set model.core.layers=2 --set model.core.hidden_channels=8 --set model.core.input_kern=5
       --set model.core.hidden_kern=3 --set train.batch_size=8 --set train.max_epochs=4 --set train.seed=3
       --threads 1 --quiet)
for x in tree:f/$NAME h5:twin/$NAME.h5; do
    name=${x%%:*} data=${x#*:}
    "$BIN/nsid-train" "${SMALL[@]}" --data "$data" --out "run_$name" >"train_$name.log" 2>&1 ||
        fail "nsid-train on the $name: $(cat "train_$name.log")"
    "$BIN/nsid-eval" --checkpoint "run_$name/checkpoint.h5" --data "$data" --db "run_$name/run.db" --quiet \
        >"eval_$name.log" 2>&1 || fail "nsid-eval on the $name: $(cat "eval_$name.log")"
done
id_tree=$(sqlite3 run_tree/run.db "SELECT id FROM runs")
id_h5=$(sqlite3 run_h5/run.db "SELECT id FROM runs")
check "two runs: the ids differ (the scans' bytes differ)" test -n "$id_tree" -a -n "$id_h5" -a "$id_tree" != "$id_h5"
check "both runs done (nsid-eval on the tree)" \
    test "$(sqlite3 run_tree/run.db "SELECT status FROM runs")$(sqlite3 run_h5/run.db "SELECT status FROM runs")" = donedone
check "checkpoint tensors and attributes bit-identical" h5diff run_tree/checkpoint.h5 run_h5/checkpoint.h5
q_epochs="SELECT epoch, round, quote(lr), quote(train_loss), quote(val_corr) FROM epochs ORDER BY epoch"
check "epoch records identical" test "$(sqlite3 run_tree/run.db "$q_epochs")" = "$(sqlite3 run_h5/run.db "$q_epochs")"
check "four epochs recorded" test "$(sqlite3 run_tree/run.db "SELECT count(*) FROM epochs WHERE epoch > 0")" -ge 4
q_metrics="SELECT * FROM metrics ORDER BY 2, 3"
check "metrics identical" test "$(sqlite3 run_tree/run.db "SELECT count(*) FROM metrics")" -gt 0 -a \
    "$(sqlite3 run_tree/run.db "$q_metrics" | sed "s/$id_tree/ID/g")" = "$(sqlite3 run_h5/run.db "$q_metrics" | sed "s/$id_h5/ID/g")"
q_neurons="SELECT * FROM neuron_metrics ORDER BY 2, 3, 4"
check "per-neuron metrics identical" \
    test "$(sqlite3 run_tree/run.db "$q_neurons" | sed "s/$id_tree/ID/g")" = "$(sqlite3 run_h5/run.db "$q_neurons" | sed "s/$id_h5/ID/g")"
check "the tree's dataset record: the tree's identity, its data key" \
    test "$(sqlite3 run_tree/run.db "SELECT data_key, length(dataset) FROM run_datasets")" = "11111-1-1-0|64"

exit $((fails > 0))
