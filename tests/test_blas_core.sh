#!/usr/bin/env bash
# test_blas_core.sh - OpenBLAS's kernels (pipeline/stage.c): a stage that finds OpenBLAS on its
# Prescott (SSE3) kernels on a CPU with AVX2 and FMA (a CPU newer than Debian's OpenBLAS build)
# executes itself again with OPENBLAS_CORETYPE set to what the CPU runs (SkylakeX with AVX-512,
# else Haswell); an OPENBLAS_CORETYPE of the user's is kept; a run records the kernels it used.
# OPENBLAS_VERBOSE=2 makes OpenBLAS print "Core: NAME" each time it loads.
set -uo pipefail
BIN=${NSID_BIN:?NSID_BIN is the build directory}
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SRC/tests/sh_check.sh"
cores() { env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 "$@" 2>&1 >/dev/null | sed -n 's/^Core: //p' | tr '\n' ' '; }
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { [[ " $flags " == *" $1 "* ]]; }
want=""
if has avx512f && has avx512bw && has avx512dq && has avx512vl; then want=SkylakeX
elif has avx2 && has fma; then want=Haswell; fi
seen=$(cores "$BIN/nsid-plan" --help)
echo "OpenBLAS loads with: $seen(the CPU: ${want:-neither AVX2 nor AVX-512})"
first=${seen%% *}
if [ "$first" = Prescott ] && [ -n "$want" ]; then
    check "Prescott on this CPU: the stage ran again with $want" test "$seen" = "Prescott $want "
else
    check "OpenBLAS chose its kernels itself ($first): the stage ran once" test "$seen" = "$first "
fi
for stage in nsid-train nsid-eval nsid-db nsid-simulate nsid-convert nsid-bench; do
    n=$(cores "$BIN/$stage" --help | wc -w)
    check "$stage: OpenBLAS loaded at most twice ($n)" test "$n" -ge 1 -a "$n" -le 2
done
check "the user's OPENBLAS_CORETYPE is kept (one load, Prescott)" \
    test "$(OPENBLAS_VERBOSE=2 OPENBLAS_CORETYPE=Prescott "$BIN/nsid-plan" --help 2>&1 >/dev/null | sed -n 's/^Core: //p' | tr '\n' ' ')" = "Prescott "
check "--version prints without loading twice" test "$(cores "$BIN/nsid-train" --version | wc -w)" -eq 1
check "arguments survive the second exec" "$BIN/nsid-plan" --help >/dev/null
out=$(env -u OPENBLAS_CORETYPE "$BIN/nsid-train" --no-such-option 2>&1 >/dev/null)
check "a usage error after the second exec is still one line ($out)" test "$(printf '%s\n' "$out" | wc -l)" -eq 1
# a run records the kernels OpenBLAS ran with (runs.blas): the ones of the second load
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_blas_XXXXXX")
trap 'rm -rf "$T"' EXIT
small=(--set model.core.layers=2 --set model.core.hidden_channels=8 --set model.core.input_kern=5
       --set model.core.hidden_kern=3 --set model.readout.type=factorized --set train.batch_size=8
       --set train.max_epochs=1)
if env -u OPENBLAS_CORETYPE "$BIN/nsid-train" "${small[@]}" --data "$SRC/tests/fixtures/data/static11111-1-1-preproc0.h5" \
       --out "$T/run" --quiet >"$T/log" 2>&1; then
    blas=$(sqlite3 "$T/run/run.db" "SELECT blas FROM runs" 2>/dev/null)
    last=${seen% }; last=${last##* }
    check "the run records OpenBLAS's kernels, $last ($blas)" grep -q " $last " <<<" $blas "
else
    fail "a small factorized run: $(tail -n 1 "$T/log")"
fi
echo "test_blas_core: $fails failed"
exit $((fails > 0))
