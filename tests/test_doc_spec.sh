#!/bin/bash
# test_doc_spec.sh - the complete example of docs/spec.md works as the page says (issue 16 item 6:
# the spec reference must not drift from nsid-plan). Extracts the YAML block after the
# "spec-example" marker and the command block after it, runs the commands as written (HOME in a
# temporary folder, the build folder of this test), and checks the run counts the page states
# (20 runs, 5 with the smoke profile) and its example error message, word for word.
set -u
src=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${NSID_BIN:-$src/build}
. "$src/tests/sh_check.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
doc=$src/docs/spec.md

# The YAML block: from the marker's fenced block to its end.
awk '/<!-- spec-example/ {m = 1; next} m == 1 && /^```yaml/ {m = 2; next}
     m == 2 && /^```/ {exit} m == 2 {print}' "$doc" > "$tmp/study.yaml"
check "docs/spec.md has the example spec" test -s "$tmp/study.yaml"
# The commands: the indented block after "From the project root:", comments dropped.
awk '/^From the project root:/ {m = 1; next} m && /^    / {print substr($0, 5); got = 1; next}
     m && got && !/^    / {exit}' "$doc" | grep -v '^#' > "$tmp/commands.sh"
check "docs/spec.md has the example's commands" grep -q 'nsid-plan' "$tmp/commands.sh"
sed -i "s#\$PWD/build#$bin#" "$tmp/commands.sh"

export HOME=$tmp/home
mkdir -p "$HOME/my-study"
cp "$tmp/study.yaml" "$HOME/my-study/study.yaml"
(cd "$src" && bash -e "$tmp/commands.sh") > "$tmp/list.out" 2> "$tmp/list.err"; rc=$?
cat "$tmp/list.err"
check "the page's commands run (exit 0)" test "$rc" -eq 0
n=$(grep -c '^[0-9a-f]\{64\}  ' "$tmp/list.out")
check "the example gives 20 runs, as the page says ($n)" test "$n" -eq 20
check "the page says 20 runs" grep -q '\*\*20 runs\*\*' "$doc"
check "2 core, 12 direct, 6 transfer runs" test \
    "$(awk '{print $2 "/" $3}' "$tmp/list.out" | sort | uniq -c | awk '{printf "%s %s;", $1, $2}')" \
    = "2 core/-;12 transfer/direct;6 transfer/transfer;"
check "--check wrote nothing into the study's folder" test "$(ls -A "$HOME/my-study")" = "$(printf 'scans\nstudy.yaml')"
cd "$HOME/my-study" || exit 1
n=$("$bin/nsid-plan" --check --list --profile smoke study.yaml 2>/dev/null | grep -c '^[0-9a-f]\{64\}  ')
check "smoke profile: 5 runs, as the page says ($n)" test "$n" -eq 5
check "the page says 5 with the smoke profile" grep -q 'With `--profile smoke` it gives 5' "$doc"

# The example error: train.max_epoch misspelt in the second document.
sed 's/defaults: {train.max_epochs: 20, /defaults: {train.max_epoch: 20, /' study.yaml > "$tmp/bad.yaml"
cp "$tmp/bad.yaml" study.yaml
msg=$("$bin/nsid-plan" --check study.yaml 2>&1); rc=$?
check "the misspelt key fails (exit 1)" test "$rc" -eq 1
check "its message is the one on the page: $msg" grep -qxF "    $msg" "$doc"
exit $((fails > 0))
