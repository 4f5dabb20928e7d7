#!/usr/bin/env bash
# test_unitids_cli.sh - nsid-eval meets the neurons a checkpoint was trained on, or refuses
# (issue 17, class 2; the library side is tests/test_unitids.c). For each readout type
# (gaussian, factorized, pointpooled) a run trained on an HDF5 scan is evaluated on:
#   the same scan                                   done (exit 0)
#   the scan with its neurons in reverse order      refused: one line naming the checkpoint,
#                                                   readout.<key>, neuron 0 and both unit ids
#   one neuron fewer / one more (a copy of the last neuron under a new unit id)
#   another neuron under the last one's place (a different subset of the same size)
#   a run trained on data.neuron_n=4, evaluated on the reversed scan (the same indices are
#                                                   drawn, other units)
#   the checkpoint without /_neurons (what nsid2torch.py --from-torch writes)
#                                                   done, with one warning that the neurons
#                                                   could not be checked
# A refused evaluation leaves the run's store as it was, byte for byte. The edited scans are
# fixtures (tests/fixtures/unitids/, made once by tests/gen_unitids_fixtures.py); the last case
# strips /_neurons with h5py and is left out (said so) without /usr/bin/python3 and h5py.
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FIX=${NSID_FIXTURES:-$SRC/tests/fixtures}/data
EDITED=${NSID_FIXTURES:-$SRC/tests/fixtures}/unitids
py=/usr/bin/python3
have_h5py=0
[ -x "$py" ] && "$py" -c "import h5py" 2>/dev/null && have_h5py=1
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_unitids_XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
cd "$T" || exit 1

SCAN=static22222-2-2-preproc0.h5
KEY=22222-2-2-0
mkdir -p scans
cp "$FIX/$SCAN" scans/
for m in reverse fewer more other; do
    mkdir -p "$m" && cp "$EDITED/$m/$SCAN" "$m/$SCAN" || fail "the edited scan $m"
done
SMALL=(--set model.core.layers=2 --set model.core.hidden_channels=8 --set model.core.input_kern=5
       --set model.core.hidden_kern=3 --set train.batch_size=8 --set train.max_epochs=1 --quiet)
cases=0 refused=0 done_=0 warned=0 wrong=0

# expect_eval WHAT RUN DATA ok|refused [PATTERN] [warn]
expect_eval() {
    local what=$1 run=$2 data=$3 want=$4 pat=${5:-} warn=${6:-}
    cases=$((cases + 1))
    local before after rc=0
    before=$(cksum <"$run/run.db")
    "$BIN/nsid-eval" --checkpoint "$run/checkpoint.h5" --data "$data" --db "$run/run.db" --quiet \
        >"$T/out" 2>"$T/err" || rc=$?
    after=$(cksum <"$run/run.db")
    local good=1
    if [ "$want" = ok ]; then
        [ $rc -eq 0 ] || good=0
        [ $rc -eq 0 ] && done_=$((done_ + 1))
        if [ -n "$warn" ]; then
            [ "$(grep -c '^warning: ' "$T/err")" = 1 ] && grep -q "$warn" "$T/err" || good=0
            grep -q '^warning: ' "$T/err" && warned=$((warned + 1))
        else
            not_grep "_neurons" "$T/err" || good=0
        fi
    else
        [ $rc -ne 0 ] && refused=$((refused + 1))
        [ $rc -ne 0 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "$run/checkpoint.h5" "$T/err" &&
            grep -q "readout.$KEY" "$T/err" && grep -q -- "$pat" "$T/err" && [ "$before" = "$after" ] || good=0
    fi
    if [ $good = 1 ]; then echo "ok: $what"; else
        fail "$what (exit $rc, store $before -> $after): $(cat "$T/err")"
        wrong=$((wrong + 1))
    fi
}

for type in gaussian factorized pointpooled; do
    extra=()
    [ $type = pointpooled ] && extra=(--set model.readout.pool_steps=1 --set model.readout.pool_kern=2) # 6x8 images
    "$BIN/nsid-train" "${SMALL[@]}" "${extra[@]}" --set model.readout.type=$type --data "scans/$SCAN" \
        --out "run-$type" >"train-$type.log" 2>&1 || { fail "train $type: $(cat "train-$type.log")"; continue; }
    r=run-$type
    expect_eval "$type: the same scan" $r "scans/$SCAN" ok
    expect_eval "$type: reversed neurons" $r "reverse/$SCAN" refused \
        "neuron 0 is unit id [0-9]* in the checkpoint, unit id [0-9]* in the scan"
    expect_eval "$type: one neuron fewer" $r "fewer/$SCAN" refused "neuron 6 is unit id [0-9]* in the checkpoint, absent"
    expect_eval "$type: one neuron more" $r "more/$SCAN" refused "neuron 7 is absent in the checkpoint, unit id"
    expect_eval "$type: another neuron in the last place" $r "other/$SCAN" refused \
        "neuron 6 is unit id [0-9]* in the checkpoint, unit id [0-9]* in the scan"
    "$BIN/nsid-train" "${SMALL[@]}" "${extra[@]}" --set model.readout.type=$type --set data.neuron_n=4 \
        --data "scans/$SCAN" --out "sub-$type" >"sub-$type.log" 2>&1 ||
        { fail "train $type on 4 neurons: $(cat "sub-$type.log")"; continue; }
    expect_eval "$type: data.neuron_n=4, the same scan" "sub-$type" "scans/$SCAN" ok
    expect_eval "$type: data.neuron_n=4 of the reversed scan" "sub-$type" "reverse/$SCAN" refused \
        "in the checkpoint, unit id [0-9]* in the scan (4 neurons in the checkpoint, 4 in the scan)"
    if [ $have_h5py = 1 ]; then
        mkdir -p "torch-$type"
        cp "$r/checkpoint.h5" "$r/run.db" "torch-$type/"
        "$py" -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); del f['_neurons']; f.close()" \
            "torch-$type/checkpoint.h5" || fail "strip /_neurons"
        expect_eval "$type: a checkpoint without /_neurons" "torch-$type" "scans/$SCAN" ok "" \
            "readout '$KEY' could not be checked against the scan's unit ids"
    else
        echo "left out: $type: a checkpoint without /_neurons (needs /usr/bin/python3 with h5py; test_unitids covers it)"
    fi
done

echo "neuron identity at nsid-eval: $cases cases, $refused refused, $done_ done, $warned warned, $wrong wrong"
mkdir -p "$BIN/figures"
printf 'cases %d\nrefused %d\ndone %d\nwarned %d\nwrong %d\n' "$cases" "$refused" "$done_" "$warned" "$wrong" \
    >"$BIN/figures/unitids_cli.txt"
exit $((fails > 0))
