#!/usr/bin/env bash
# test_project.sh - a project of one's own, outside the source tree, exactly as docs/project.md
# walks through it: the test extracts the page's commands (tests/doc_block.sh) and runs them with
# NSID = a read-only copy of this source (its files, committed into a fresh git repository, then
# chmod a-w), P = a temporary project folder and BUILD = this build (a fresh BUILD_STAMP stands in
# for the build step, as in test_repro_smoke). The project (docs/project.md §4): a core trained on
# an HDF5 scan, two readouts x two data sizes trained directly on a file-tree scan, and the core
# transferred to the tree, at the smoke profile of its own spec. Checks:
#   - every command succeeds; nsid-init wrote a starter project;
#   - the store has every planned run done, 11 distinct runs, and distinct runs for distinct data
#     (the core run and a tree run with the same configuration are two runs);
#   - the transfer runs used the core trained on the HDF5 scan;
#   - the figure of the spec's `plot:` exists in every format and the report describes the
#     project's experiments (names, descriptions, run counts, the figure), not the reproduction;
#   - nothing was written into the source copy (`git status --porcelain --ignored` is empty and
#     no file there is newer than the start), and a second make has nothing to do;
#   - a data folder without a manifest is refused with one message and left empty (never
#     simulated into), a project without specs is refused, nsid-init does not overwrite a
#     project, and a manifest naming a missing scan stops make at plan time with its file and line.
# ctest-labels: project
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
for tool in sqlite3 gnuplot make git; do
    command -v "$tool" >/dev/null || { echo "test_project: needs $tool (scripts/deps.sh)"; exit 1; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_project_XXXXXX")
cleanup() { chmod -R u+w "$T" 2>/dev/null; if [ "${NSID_PROJECT_KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT
cd "$T"
. "$SRC/tests/sh_check.sh"
. "$SRC/tests/doc_block.sh"
not() { ! "$@"; }
doc=$SRC/docs/project.md

# ---- a read-only copy of the source ----------------------------------------------------------------
# Its files as a clone would have them (tracked and new files, not the ignored build outputs).
mkdir nsid
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$SRC" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$T/nsid" 2>/dev/null)
else
    (cd "$SRC" && tar --exclude='./build*' --exclude=./results --exclude=./data -cf - .) | tar -xf - -C nsid
fi
(cd nsid && git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm copy) ||
    { echo "test_project: cannot make the source copy"; exit 1; }
chmod -R a-w nsid
touch start.stamp
export NSID=$T/nsid P=$T/v1-study BUILD=$BIN BUILD_STAMP=$T/built.stamp
touch "$BUILD_STAMP"

# ---- the page's commands -------------------------------------------------------------------------------
step() { # step N HEADING [BLOCK]: run docs/project.md's block under HEADING
    doc_block "$doc" "$2" "${3:-1}" >"step$1.sh" || { fail "docs/project.md has a block under '$2'"; return 1; }
    (cd "$T" && bash -eo pipefail "step$1.sh") >"step$1.log" 2>&1 || { tail -n 25 "step$1.log"; return 1; }
}
check "1. build (make ... build)" step 1 "## 1. Build nsid into the project"
check "2. the scans" step 2 "## 2. Scans"
check "   a tree and an HDF5 scan" test -d "$P/recordings/static20457-5-9-preproc0" -a -f "$P/recordings/static20505-6-1-preproc0.h5"
check "3. nsid-init" step 3a "## 3. A starter project" 1
check "   nsid-init wrote the starter files" test -s "$P/experiments/readouts.yaml" -a -s "$P/README.md" -a -s "$P/.gitignore"
check "   the starter spec has a plot" grep -q "^plot:" "$P/experiments/readouts.yaml"
check "3. the manifest" step 3b "## 3. A starter project" 2
check "4. the spec" step 4 "## 4. The experiments"
check "5. make" step 5 "## 5. Run"
check "6. results" step 6 "## 6. Results"

# ---- what they produced ---------------------------------------------------------------------------------
db=$P/results/results.db
q() { sqlite3 "$db" "$1" 2>/dev/null; }
planned=$(q "SELECT COUNT(DISTINCT id) FROM plan_runs")
check "11 distinct runs planned ($planned)" test "${planned:-0}" -eq 11
check "every planned run is done" test -n "$planned" -a "$(q "SELECT COUNT(*) FROM runs WHERE status = 'done'")" = "$planned"
check "status counts them" grep -q "done $planned " "$T/step5.log"
same=$(q "SELECT COUNT(*) FROM (SELECT config FROM runs GROUP BY config HAVING COUNT(DISTINCT id) > 1)")
check "the same configuration on two scans is two runs ($same)" test "${same:-0}" -ge 1
check "the core run read the HDF5 scan" test "$(q "SELECT COUNT(*) FROM run_datasets d JOIN plan_runs p ON p.id = d.run_id
      WHERE p.experiment = 'core' AND d.path LIKE '%static20505-6-1-preproc0.h5'")" -eq 1
check "the readout runs read the tree" test "$(q "SELECT COUNT(*) FROM run_datasets d JOIN plan_runs p ON p.id = d.run_id
      WHERE p.experiment = 'readouts' AND d.path LIKE '%static20457-5-9-preproc0%' AND d.path NOT LIKE '%.h5'")" -eq 8
core=$(q "SELECT id FROM plan_runs WHERE experiment = 'core'")
check "the transfers used the core trained on the HDF5 scan" \
    test "$(q "SELECT COUNT(*) FROM runs r JOIN plan_runs p ON p.id = r.id WHERE p.experiment = 'transfer' AND r.parent = '$core'")" -eq 2
for fmt in png svg pdf; do
    check "the figure study.$fmt" test -s "$P/results/figures/study.$fmt"
done
check "the results step listed the figure" grep -q "study.png" "$T/step6.log"
check "the figure summary has 3 curves x 2 sizes" \
    test "$(q "SELECT COUNT(*) FROM figure_summary WHERE figure = 'study'")" -eq 6
r=$P/results/REPORT.md
check "REPORT.md written" test -s "$r"
for e in core readouts transfer; do
    check "the report names experiment $e" grep -q "^| $e | " "$r"
done
check "the report gives the spec's descriptions" grep -q "Gaussian and factorized readouts trained directly on animal 20457" "$r"
check "the report counts the runs" grep -q "11 planned: 11 done, 0 failed" "$r"
check "the report has the best runs" grep -q "^## Best runs" "$r"
check "the report includes the figure" grep -q "figures/study.png" "$r"
check "REPORT.html embeds the figure" grep -q "data:image/png;base64," "$P/results/REPORT.html"
check "the report is not the reproduction's" not_grep -i "reproduc\|simulated animals\|Fig. 5" "$r"

# ---- the source stayed clean, make is done -------------------------------------------------------------
newer=$(find nsid -path nsid/.git -prune -o -newer start.stamp -print | head -n 3)
check "no file in the source copy is newer than the start ($newer)" test -z "$newer"
check "git status of the source copy is clean" test -z "$(cd nsid && git status --porcelain --ignored)"
check "a second make has nothing to do" make -s -q -f "$NSID/Makefile.experiments" PROJECT="$P" PROFILE=smoke

# ---- refusals ------------------------------------------------------------------------------------------
mkdir -p mine empty-project
out=$(make -s -f "$NSID/Makefile.experiments" DATA="$T/mine" RESULTS="$T/res-mine" 2>&1)
rc=$?
check "a data folder without a manifest is refused" test "$rc" -ne 0
check "  with one message naming its groups.json" test "$(printf '%s\n' "$out" | grep -c "mine/groups.json")" -eq 1
check "  and nothing simulated into it" test -z "$(ls -A mine)"
check "the default reproduction (no DATA) still simulates its animals" \
    grep -q "nsid-simulate --profile quick --seed 1 --out data/quick" <(make -n -f "$NSID/Makefile.experiments" RESULTS="$T/res-default" data 2>&1)
out=$(make -s -f "$NSID/Makefile.experiments" PROJECT="$T/empty-project" 2>&1)
check "a project without specs is refused" grep -q "no experiment specs" <<<"$out"

check "nsid-init refuses to overwrite a project" not "$NSID/scripts/nsid-init" "$P" "$P/recordings/static20505-6-1-preproc0.h5"
check "  and left its manifest as it was" grep -q "label: animal 20505" "$P/data.yaml"
mkdir -p bad-project
cp -r "$P/experiments" bad-project/
printf 'groups:\n  core: [%s]\n  new:\n    - nothere/static20457-5-9-preproc0/\n' "$P/recordings/static20505-6-1-preproc0.h5" \
    >bad-project/data.yaml
out=$(make -s -f "$NSID/Makefile.experiments" PROJECT="$T/bad-project" PROFILE=smoke 2>&1)
rc=$?
check "a manifest naming a missing scan is refused" test "$rc" -ne 0
check "  with its file and line" grep -q "bad-project/data.yaml:4" <<<"$out"
check "  before any run started" test ! -e bad-project/results/runs

if [ "$fails" -ne 0 ]; then
    echo "test_project: $fails check(s) failed (NSID_PROJECT_KEEP=1 keeps $T)"
    exit 1
fi
echo "test_project: all checks passed"
