#!/usr/bin/env bash
# test_version.sh - issue 16 item 7: every stage's --version prints the release and the git
# commit compiled in at build time, and a run records that commit also when it is launched from
# inside another git repository (the store used to ask git in the working directory, and
# Makefile.experiments exported git's view of make's folder). Also cmake/git_version.cmake on
# its own: "unknown" outside a checkout, the dirty flag, and no rewrite (no rebuild) when
# nothing changed.
set -u
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FX=${NSID_FIXTURES:-$SRC/tests/fixtures}/data
. "$SRC/tests/sh_check.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_version_XXXXXX")
trap 'rm -rf "$T"' EXIT

release=$(sed -n 's/^project(nsid VERSION \([0-9.]*\) .*/\1/p' "$SRC/CMakeLists.txt")
check "CMakeLists.txt defines the release" test -n "$release"

# 1. --version of every stage: "<stage> <release> (commit <40 hex>|unknown[, clean|, dirty])", exit 0.
commit=""
for s in simulate convert plan train eval db bench databench; do
    out=$("$BIN/nsid-$s" --version 2>"$T/err"); rc=$?
    check "nsid-$s --version: exit 0" test "$rc" = 0
    check "nsid-$s --version: nothing on stderr" test ! -s "$T/err"
    check "nsid-$s --version: release and commit ('$out')" \
        grep -qE "^nsid-$s $release \(commit ([0-9a-f]{40}, (clean|dirty)|unknown)\)\$" <<<"$out"
    c=$(sed -n 's/.*(commit \([0-9a-f]*\|unknown\).*/\1/p' <<<"$out")
    if [ -z "$commit" ]; then commit=$c; fi
    check "nsid-$s: the same commit as the other stages" test "$c" = "$commit"
done
if git -C "$SRC" rev-parse --verify -q HEAD >/dev/null 2>&1 && [ "$(git -C "$SRC" rev-parse --show-toplevel)" = "$(cd "$SRC" && pwd -P)" ]; then
    check "the compiled-in commit is a commit of the source checkout" git -C "$SRC" cat-file -e "$commit^{commit}"
else
    check "outside a git checkout the commit is unknown" test "$commit" = unknown
fi

# 2. A run launched from inside another git repository records the build's commit.
other="$T/other-repo"
mkdir -p "$other" && git -C "$other" init -q && echo x >"$other/f" && git -C "$other" add f &&
    git -C "$other" -c user.name=t -c user.email=t@t commit -qm other && echo y >"$other/f"   # dirty too
other_head=$(git -C "$other" rev-parse HEAD)
(cd "$other" && "$BIN/nsid-train" --data "$FX/static11111-1-1-preproc0.h5" --out "$T/run" --quiet \
    --set model.core.layers=2 --set model.core.hidden_channels=4 --set model.core.input_kern=5 \
    --set model.core.hidden_kern=3 --set train.batch_size=8 --set train.max_epochs=1 >"$T/train.out" 2>&1)
check "a tiny run trains from inside another repository" test $? = 0 || cat "$T/train.out"
row=$(sqlite3 "$T/run/run.db" "SELECT coalesce(git_commit, 'unknown') || ' ' || coalesce(git_dirty, -1) FROM runs")
want_dirty=$(sed -n 's/.*, \(clean\|dirty\))$/\1/p' <<<"$("$BIN/nsid-train" --version)")
case $want_dirty in clean) want_dirty=0 ;; dirty) want_dirty=1 ;; *) want_dirty=-1 ;; esac
check "the run records the build's commit and dirty flag ('$row', want '$commit $want_dirty')" \
    test "$row" = "$commit $want_dirty"
check "not the commit of the working directory's repository" not_grep -q "$other_head" <<<"$row"

# 3. cmake/git_version.cmake by itself.
gen() { cmake -DSRC="$1" -DOUT="$2" -P "$SRC/cmake/git_version.cmake"; }
mkdir -p "$T/plain"
gen "$T/plain" "$T/plain.h"
check "outside a checkout: unknown" grep -q '^#define NSID_GIT_COMMIT "unknown"$' "$T/plain.h"
check "outside a checkout: dirty flag -1" grep -q '^#define NSID_GIT_DIRTY -1$' "$T/plain.h"
# a source tree copied into another repository's folder is not that repository's commit
mkdir -p "$other/vendored"
gen "$other/vendored" "$T/vendored.h"
check "inside another repository's folder: unknown" grep -q '"unknown"' "$T/vendored.h"
repo="$T/repo"
mkdir -p "$repo" && git -C "$repo" init -q && echo a >"$repo/a.c" && git -C "$repo" add a.c &&
    git -C "$repo" -c user.name=t -c user.email=t@t commit -qm one
gen "$repo" "$T/repo.h"
check "a clean checkout: its HEAD" grep -q "\"$(git -C "$repo" rev-parse HEAD)\"" "$T/repo.h"
check "a clean checkout: dirty 0" grep -q '^#define NSID_GIT_DIRTY 0$' "$T/repo.h"
touch -d '2001-01-01 00:00:00' "$T/repo.h"
echo untracked >"$repo/new.c"     # untracked files (a build folder) do not make it dirty
gen "$repo" "$T/repo.h"
check "unchanged state: the header is not rewritten (nothing recompiles)" \
    test "$(stat -c %Y "$T/repo.h")" = "$(date -d '2001-01-01 00:00:00' +%s)"
echo b >>"$repo/a.c"
gen "$repo" "$T/repo.h"
check "an edited tracked file: dirty 1" grep -q '^#define NSID_GIT_DIRTY 1$' "$T/repo.h"
git -C "$repo" -c user.name=t -c user.email=t@t commit -qam two
gen "$repo" "$T/repo.h"
check "a new commit: the new HEAD, clean" \
    bash -c "grep -q '\"$(git -C "$repo" rev-parse HEAD)\"' '$T/repo.h' && grep -q 'DIRTY 0\$' '$T/repo.h'"

exit $((fails > 0))
