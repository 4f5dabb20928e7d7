#!/usr/bin/env bash
# test_worlds.sh - SIM_SEED picks the simulated world of Makefile.experiments (issue 20):
#   - it reaches nsid-simulate (--seed N) and the folder names (world 1: data/PROFILE and
#     results; world N: data/PROFILE-seedN and results-seedN), so a second world never touches
#     the first one's scans, runs or store;
#   - rebuilding the binaries does not re-simulate; what the simulator's output depends on does
#     (here: the compiler flags);
#   - a SIM_SEED that is not a non-negative integer, SIM_SEED where nothing is simulated, a
#     results folder of another world, and one copied a level too deep (RESULTS/results) are
#     refused with one message naming the variable or the folder, and nothing is written.
# The stages are tests/fake_stages.sh's stand-ins (nsid-plan and nsid-db are real): this tests
# the make machinery; the worlds' science is docs/reproduction.md's.
set -euo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
command -v sqlite3 >/dev/null || { echo "test_worlds: needs the sqlite3 shell (scripts/deps.sh)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_worlds_XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"
not() { ! "$@"; }

. "$SRC/tests/fake_stages.sh"
make_fake_stages fakebin "$BIN"
export FAKE_LOG=$T/train.log FAKE_SIM_LOG=$T/sim.log
: >"$FAKE_LOG"
: >"$FAKE_SIM_LOG"

mkdir -p specs
cat >specs/direct.yaml <<'EOF'
experiment: direct
data: evaluation
grid: {data.image_n: [10, 20]}
plot: {figure: fig5, curve: direct, x: $data.image_n}
EOF

M=(make -s -f "$SRC/Makefile.experiments" PROFILE=smoke BUILD=fakebin SPECS=specs/direct.yaml
   PLOTS="$T/noplots")
sims() { wc -l <"$FAKE_SIM_LOG"; }
ids() { ls "$1/runs" | sort; }
digest() { find "$@" -type f ! -name '*.lock' -print0 | sort -z | xargs -0 sha256sum; }

# ---- world 1: the default folders ----------------------------------------------------------------
check "world 1 (default SIM_SEED)" logged w1.log "${M[@]}"
check "world 1 simulated once, with seed 1, into data/smoke" grep -qx "smoke 1 data/smoke" "$FAKE_SIM_LOG"
check "world 1's results are in results/" test "$(ls results/runs/*/done | wc -l)" -eq 2
check "results/ records its world" grep -qx "sim_seed=1" results/.nsid-world
w1_before=$(digest data/smoke results)
scans1=$(digest data/smoke/*.h5)

# ---- world 2 beside it ---------------------------------------------------------------------------
check "world 2 (SIM_SEED=2)" logged w2.log "${M[@]}" SIM_SEED=2
check "world 2 simulated with seed 2 into data/smoke-seed2" grep -qx "smoke 2 data/smoke-seed2" "$FAKE_SIM_LOG"
check "world 2's results are in results-seed2/" test "$(ls results-seed2/runs/*/done | wc -l)" -eq 2
check "world 2's runs have other ids (their data differ)" \
    test -z "$(comm -12 <(ids results) <(ids results-seed2))"
check "world 1 untouched by world 2" test "$(digest data/smoke results)" = "$w1_before"
check "make -q: world 1 up to date" "${M[@]}" -q
check "make -q: world 2 up to date" "${M[@]}" -q SIM_SEED=2
check "SIM_SEED=0 is a world too (data/smoke-seed0)" logged w0.log "${M[@]}" SIM_SEED=0 data
check "seed 0 reached the simulator" grep -qx "smoke 0 data/smoke-seed0" "$FAKE_SIM_LOG"

# ---- what re-simulates and what does not ---------------------------------------------------------
n=$(sims)
touch fakebin/.nsid-built                       # the binaries were rebuilt
check "make after a rebuild" logged w3.log "${M[@]}"
check "a rebuild does not re-simulate" test "$(sims)" -eq "$n"
check "the scans keep their bytes" test "$(digest data/smoke/*.h5)" = "$scans1"
check "the simulator key did not change" grep -q "^profile=smoke seed=1 " data/smoke/.nsid-sim-key
check "make after changing the compiler flags" logged w4.log "${M[@]}" CMAKE_FLAGS=-DCMAKE_BUILD_TYPE=Release
check "other compiler flags re-simulate (the output may depend on them)" test "$(sims)" -eq $((n + 1))
check "the same world's scans: the same ids, nothing retrained" test "$(wc -l <"$FAKE_LOG")" -eq 4
check "make -q up to date after it" "${M[@]}" -q CMAKE_FLAGS=-DCMAKE_BUILD_TYPE=Release
worlds=$(digest data results results-seed2)

# ---- a manifest of one's own is never simulated over, whatever the key says -------------------------
mkdir -p own && cp data/smoke/*.h5 own/
echo '{"groups": {"evaluation": ["e.h5"]}}' > own/groups.json
own=$(digest own)
n=$(sims)
check "SIMULATE=yes on a folder whose manifest is one's own" logged w5.log "${M[@]}" SIMULATE=yes DATA=own RESULTS=res-own data
check "  simulates nothing" test "$(sims)" -eq "$n"
check "  even with other compiler flags" logged w6.log "${M[@]}" SIMULATE=yes DATA=own RESULTS=res-own \
    CMAKE_FLAGS=-DCMAKE_BUILD_TYPE=Debug data
check "  (still nothing simulated)" test "$(sims)" -eq "$n"
check "  and leaves the folder's scans and manifest as they were" \
    test "$(digest own/*.h5 own/groups.json)" = "$(printf '%s\n' "$own" | grep -v nsid-sim-key)"

# ---- refused, naming the variable or the folder; nothing written --------------------------------
refused() { # refused WHAT PATTERN make-args...: exits non-zero, one line matching PATTERN, no new files
    local what=$1 pat=$2; shift 2
    local before after rc=0
    before=$(find . \( -path ./fakebin -o -path ./err.txt \) -prune -o -print | sort | sha256sum)
    "${M[@]}" "$@" >err.txt 2>&1 || rc=$?
    after=$(find . \( -path ./fakebin -o -path ./err.txt \) -prune -o -print | sort | sha256sum)
    check "$what: refused" test "$rc" -ne 0
    check "$what: one message naming it" test "$(grep -c "$pat" err.txt)" -eq 1
    check "$what: nothing written" test "$before" = "$after"
}
for bad in abc -1 01 007 "1 2" 1.5 +3 1e3 "" "2'x" '$(HOME)x' 12345678901234567890; do
    refused "SIM_SEED='$bad'" "SIM_SEED" SIM_SEED="$bad"
done
refused "SIM_SEED with a data folder of one's own" "SIM_SEED=2 with DATA=mine" SIM_SEED=2 DATA=mine
mkdir -p proj/experiments && cp specs/direct.yaml proj/experiments/
refused "SIM_SEED with PROJECT" "SIM_SEED=3 with PROJECT" PROJECT=proj SIM_SEED=3
refused "world 2's results for world 1's figures" "RESULTS=results-seed2: .*SIM_SEED=2, not SIM_SEED=1" \
    RESULTS=results-seed2 figures
refused "world 1's results for world 2" "RESULTS=results: .*SIM_SEED=1, not SIM_SEED=2" \
    RESULTS=results SIM_SEED=2 figures
mkdir -p nested && cp -a results nested/results
refused "a results folder copied one level too deep" "RESULTS=nested: it holds no plan, but nested/results does" \
    RESULTS=nested figures
rm -rf nested
digest data results results-seed2 > "$T/after.txt"; printf "%s\n" "$worlds" > "$T/before.txt"
diff "$T/before.txt" "$T/after.txt" | head -5
check "the worlds are as they were" test "$(digest data results results-seed2)" = "$worlds"

echo "test_worlds: $fails failed"
exit $((fails > 0))
