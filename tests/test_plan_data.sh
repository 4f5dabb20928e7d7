#!/usr/bin/env bash
# test_plan_data.sh - nsid-plan's data: a data manifest (YAML or JSON, --manifest, --groups,
# --data DIR) and a spec's data: {files: [...]} (relative to the spec's folder) naming HDF5
# files and file-tree folders; ids that do not depend on where the data lives; the hash cache.
# Then bad data at plan time, several cases per class (a missing scan, a path that is no
# scan, the same scan twice, two scans with one data key, a malformed manifest): exit 1, ONE
# message naming the spec or manifest file and line, and nothing written.
set -uo pipefail
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BIN=${NSID_BIN:-$SRC/build}
FIX=${NSID_FIXTURES:-$SRC/tests/fixtures}/data
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_plandata_XXXXXX")
trap 'rm -rf "$T"' EXIT
. "$SRC/tests/sh_check.sh"
PLAN=$BIN/nsid-plan

# ---- a project: scans in both layouts, a manifest, specs in a subfolder ----------------------------
P=$T/proj
mkdir -p "$P/scans" "$P/specs"
cp -r "$FIX/static11111-1-1-preproc0" "$P/scans/"                 # a file tree
cp "$FIX/static22222-2-2-preproc0.h5" "$P/scans/"                 # an HDF5 file
cat >"$P/data.yaml" <<'EOF'
# my recordings
groups:
  both:
    label: Tree and HDF5
    files:
      - scans/static11111-1-1-preproc0
      - scans/static22222-2-2-preproc0.h5
  tree: [scans/static11111-1-1-preproc0]
scans:
  - {file: scans/static22222-2-2-preproc0.h5, animal: 22222, image_set: 0}
EOF
cat >"$P/data.json" <<'EOF'
{"groups": {"both": {"label": "Tree and HDF5",
                     "files": ["scans/static11111-1-1-preproc0", "scans/static22222-2-2-preproc0.h5"]},
            "tree": ["scans/static11111-1-1-preproc0"]},
 "scans": [{"file": "scans/static22222-2-2-preproc0.h5", "animal": 22222, "image_set": 0}]}
EOF
cp "$P/data.json" "$P/groups.json"
cat >"$P/specs/group.yaml" <<'EOF'
experiment: bygroup
data: both
grid: {train.seed: [1, 2]}
EOF
cat >"$P/specs/files.yaml" <<'EOF'
experiment: byfiles
data: {files: [../scans/static11111-1-1-preproc0, ../scans/static22222-2-2-preproc0.h5]}
variants:
  - {name: forward}
  - {name: reversed, data: {files: [../scans/static22222-2-2-preproc0.h5, ../scans/static11111-1-1-preproc0]}}
  - {name: tree_only, data: {files: [../scans/static11111-1-1-preproc0/]}}
EOF

ids() { # ids() DIR ARGS... : the sorted "id experiment variant point" lines of --check --list, run in DIR
    local dir=$1
    shift
    (cd "$dir" && "$PLAN" --check --list "$@" 2>/dev/null | sort)
}
(cd "$P" && "$PLAN" --manifest data.yaml --results res specs/group.yaml specs/files.yaml >"$T/out" 2>"$T/err")
check "a manifest and spec files naming a tree and an HDF5 file plan: $(head -c 300 "$T/err")" test $? -eq 0
check "five runs, four distinct (bygroup seed 1 is byfiles forward)" test "$(find "$P/res/runs" -name run.json | wc -l)" -eq 4
base=$(ids "$P" --manifest data.yaml specs/group.yaml specs/files.yaml)
check "--list gives five runs" test "$(printf '%s\n' "$base" | grep -c .)" -eq 5
check "--groups is --manifest" test "$(ids "$P" --groups data.yaml specs/group.yaml specs/files.yaml)" = "$base"
check "a JSON manifest plans as its YAML twin" \
    test "$(ids "$P" --manifest data.json specs/group.yaml specs/files.yaml)" = "$base"
check "--data DIR reads DIR/groups.json" test "$(ids "$P" --data . specs/group.yaml specs/files.yaml)" = "$base"
check "spec files are relative to the spec's folder, not the working directory" \
    test "$(ids / --manifest "$P/data.yaml" "$P/specs/group.yaml" "$P/specs/files.yaml")" = "$base"
g1=$(printf '%s\n' "$base" | awk '$2 == "bygroup" && /seed=1/ {print $1}')
f1=$(printf '%s\n' "$base" | awk '$3 == "forward" {print $1}')
fr=$(printf '%s\n' "$base" | awk '$3 == "reversed" {print $1}')
check "the same scans in another order are another run" test -n "$f1" -a -n "$fr" -a "$f1" != "$fr"
check "the group and the same files named by a spec are the same run (seed 1 is the default)" \
    test -n "$g1" -a "$g1" = "$f1"
# the identity lists the scans' identities in order; the tree's identity does not depend on its place
cp -r "$P" "$T/moved"
check "the project moved elsewhere (a copy of the tree): the same ids" \
    test "$(ids "$T/moved" --manifest data.yaml specs/group.yaml specs/files.yaml)" = "$base"
check "the hash cache holds one entry per file of the tree, by absolute path" \
    grep -q " $P/scans/static11111-1-1-preproc0/meta/" "$P/res/.hashes"
touch "$P/scans/static11111-1-1-preproc0/data/images/0.npy"
check "a touched file with the same content: the same ids" \
    test "$(ids "$P" --manifest data.yaml specs/group.yaml specs/files.yaml)" = "$base"
printf 'x' >>"$T/moved/scans/static11111-1-1-preproc0/meta/trials/tiers.npy"
changed=$(ids "$T/moved" --manifest data.yaml specs/group.yaml specs/files.yaml)
check "one byte more in a tree file: every id changes" \
    test "$(comm -12 <(printf '%s\n' "$base" | cut -d' ' -f1 | sort) <(printf '%s\n' "$changed" | cut -d' ' -f1 | sort) | grep -c .)" -eq 0
check "the store records the tree's dataset with its identity" \
    test "$(sqlite3 "$P/res/results.db" "SELECT count(*) FROM datasets WHERE path LIKE '%static11111-1-1-preproc0%' AND length(sha256) = 64" 2>/dev/null || echo 1)" -ge 1

# ---- bad data: one message at the line, nothing written -------------------------------------------------
cp "$P/res/results.db" "$T/before.db"
cp "$P/res/plan.mk" "$T/before.mk"
cp "$P/res/.hashes" "$T/before.hashes"
n_json=$(find "$P/res/runs" -name run.json | wc -l)
cases=0
expect_bad() { # expect_bad NAME WANT_LOCATION WANT_TEXT nsid-plan-args... (run in $P)
    local name=$1 loc=$2 want=$3
    shift 3
    cases=$((cases + 1))
    (cd "$P" && timeout 60 "$PLAN" --results res "$@" >"$T/out" 2>"$T/err")
    local rc=$?
    [ $rc -eq 1 ] || fail "$name: exit $rc, want 1: $(head -c 300 "$T/err")"
    [ "$(grep -c . "$T/err")" -eq 1 ] || fail "$name: want one message, got: $(cat "$T/err")"
    grep -qF -- "$loc" "$T/err" || fail "$name: want '$loc' in: $(head -c 300 "$T/err")"
    grep -qF -- "$want" "$T/err" || fail "$name: want '$want' in: $(head -c 300 "$T/err")"
    cmp -s "$P/res/results.db" "$T/before.db" || fail "$name: results.db changed"
    cmp -s "$P/res/plan.mk" "$T/before.mk" || fail "$name: plan.mk changed"
    cmp -s "$P/res/.hashes" "$T/before.hashes" || fail "$name: the hash cache changed"
    [ "$(find "$P/res/runs" -name run.json | wc -l)" -eq "$n_json" ] || fail "$name: run.json written"
    [ $rc -eq 1 ] && echo "ok: $name: $(cat "$T/err")"
}
manifest() { # manifest FILE GROUP-LINES...: a manifest with one group g
    local f=$1
    shift
    { echo "groups:"; echo "  g:"; for x in "$@"; do echo "    - $x"; done; } >"$P/$f"
}
spec_files() { # spec_files FILE PATH...: a spec whose data are these files
    local f=$1 list
    shift
    list=$(printf '%s, ' "$@")
    printf 'experiment: bad\ndata: {files: [%s]}\n' "${list%, }" >"$P/specs/$f"
}
printf 'experiment: bad\ndata: g\n' >"$P/specs/g.yaml"
mkdir -p "$P/bad/emptydir" "$P/bad/metaonly/meta" "$P/bad/a" "$P/bad/b"
echo "notes about my mice" >"$P/bad/notes.txt"
: >"$P/bad/empty.h5"
echo "not a zip" >"$P/bad/static7-7-7-preproc0.zip"
mkfifo "$P/bad/fifo.h5"
cp "$FIX/static22222-2-2-preproc0.h5" "$P/bad/static33333-3-3-preproc0.h5"       # same content, other name
cp -r "$FIX/static11111-1-1-preproc0" "$P/bad/static44444-4-4-preproc0"           # same tree, other name
ln -s ../scans/static22222-2-2-preproc0.h5 "$P/bad/link.h5"
cp "$FIX/static11111-1-1-preproc0.h5" "$P/bad/a/static5-5-5-preproc0.h5"          # one data key,
cp "$FIX/static22222-2-2-preproc0.h5" "$P/bad/b/static5-5-5-preproc0.h5"          # two scans
cp "$FIX/static22222-2-2-preproc0.h5" "$P/bad/static6-6-6-0.h5"
cp "$FIX/static11111-1-1-preproc0.h5" "$P/bad/static6-6-6-preproc0.h5"
cp -r "$FIX/static11111-1-1-preproc0" "$P/bad/fifotree"
mkfifo "$P/bad/fifotree/meta/pipe"

# a missing scan
manifest m1.yaml scans/static22222-2-2-preproc0.h5 scans/nope.h5
expect_bad missing-in-manifest "m1.yaml:4:" "data file 'scans/nope.h5' does not exist" --manifest m1.yaml specs/g.yaml
printf 'groups:\n  g: [scans/static22222-2-2-preproc0.h5]\n  unused:\n    files:\n      - scans/gone/\n' >"$P/m2.yaml"
expect_bad missing-in-unused-group "m2.yaml:5:" "'scans/gone/' does not exist" --manifest m2.yaml specs/g.yaml
spec_files m3.yaml ../scans/static22222-2-2-preproc0.h5 ../scans/static9-9-9-preproc0
expect_bad missing-in-spec "specs/m3.yaml:2:" "data file '../scans/static9-9-9-preproc0' does not exist" specs/m3.yaml
spec_files m4.yaml "$P/no/such.h5"
expect_bad missing-absolute "specs/m4.yaml:2:" "'$P/no/such.h5' does not exist" specs/m4.yaml
manifest m5.yaml scans/static11111-1-1-preproc0.h5
expect_bad missing-h5-beside-a-tree "m5.yaml:3:" "does not exist" --manifest m5.yaml specs/g.yaml

# a path that is no scan
manifest n1.yaml bad/notes.txt
expect_bad text-file "n1.yaml:3:" "'bad/notes.txt' is not a scan: no HDF5 signature" --manifest n1.yaml specs/g.yaml
spec_files n2.yaml ../bad/emptydir
expect_bad empty-folder "specs/n2.yaml:2:" "not a scan: a folder without data/" specs/n2.yaml
manifest n3.yaml scans/static22222-2-2-preproc0.h5 bad/metaonly
expect_bad folder-without-data "n3.yaml:4:" "'bad/metaonly' is not a scan" --manifest n3.yaml specs/g.yaml
manifest n4.yaml bad/fifo.h5
expect_bad fifo "n4.yaml:3:" "FIFO" --manifest n4.yaml specs/g.yaml
manifest n5.yaml bad/empty.h5
expect_bad empty-file "n5.yaml:3:" "no HDF5 signature in its 0 bytes" --manifest n5.yaml specs/g.yaml
spec_files n6.yaml ../bad/static7-7-7-preproc0.zip
expect_bad fake-zip "specs/n6.yaml:2:" "no zip signature" specs/n6.yaml
manifest n7.yaml bad/fifotree
expect_bad fifo-inside-a-tree "n7.yaml:3:" "fifotree/meta/pipe: a FIFO" --manifest n7.yaml specs/g.yaml

# the same scan twice in one run
manifest d1.yaml scans/static22222-2-2-preproc0.h5 scans/static22222-2-2-preproc0.h5
expect_bad same-path "d1.yaml:4:" "listed twice" --manifest d1.yaml specs/g.yaml
spec_files d2.yaml ../scans/static11111-1-1-preproc0 ../scans/./static11111-1-1-preproc0/
expect_bad same-path-spelled-otherwise "specs/d2.yaml:2:" "listed twice" specs/d2.yaml
manifest d3.yaml scans/static22222-2-2-preproc0.h5 bad/link.h5
expect_bad same-file-through-a-link "d3.yaml:4:" "listed twice" --manifest d3.yaml specs/g.yaml
manifest d4.yaml scans/static22222-2-2-preproc0.h5 bad/static33333-3-3-preproc0.h5
expect_bad same-content-other-name "d4.yaml:4:" "are the same scan (identical content" --manifest d4.yaml specs/g.yaml
spec_files d5.yaml ../scans/static11111-1-1-preproc0 ../bad/static44444-4-4-preproc0
expect_bad same-tree-copied "specs/d5.yaml:2:" "are the same scan (identical content" specs/d5.yaml

# two scans with one data key
manifest k1.yaml scans/static11111-1-1-preproc0 bad/static6-6-6-preproc0.h5 bad/a/static5-5-5-preproc0.h5 \
    bad/b/static5-5-5-preproc0.h5
expect_bad same-key-two-folders "k1.yaml:6:" "same data key '5-5-5-0'" --manifest k1.yaml specs/g.yaml
manifest k2.yaml bad/static6-6-6-0.h5 bad/static6-6-6-preproc0.h5
expect_bad same-key-preproc-dropped "k2.yaml:4:" "same data key '6-6-6-0'" --manifest k2.yaml specs/g.yaml
cp "$FIX/static11111-1-1-preproc0.h5" "$P/bad/"
spec_files k3.yaml ../scans/static11111-1-1-preproc0 ../bad/static11111-1-1-preproc0.h5
expect_bad same-key-tree-and-h5 "specs/k3.yaml:2:" "same data key '11111-1-1-0'" specs/k3.yaml

# a malformed manifest
printf 'group:\n  g: [scans/static22222-2-2-preproc0.h5]\n' >"$P/f1.yaml"
expect_bad unknown-top-key "f1.yaml:1:" "unknown key 'group'" --manifest f1.yaml specs/g.yaml
printf 'groups:\n  g: scans/static22222-2-2-preproc0.h5\n' >"$P/f2.yaml"
expect_bad group-not-a-list "f2.yaml:2:" "a group is a list of files" --manifest f2.yaml specs/g.yaml
printf 'groups:\n  g: []\n' >"$P/f3.yaml"
expect_bad empty-group "f3.yaml:2:" "a group without files" --manifest f3.yaml specs/g.yaml
printf 'groups:\n  g:\n    label: G\n    file: [scans/static22222-2-2-preproc0.h5]\n' >"$P/f4.yaml"
expect_bad unknown-group-key "f4.yaml:4:" "unknown key 'file' in a group" --manifest f4.yaml specs/g.yaml
printf 'groups:\n  g: [scans/static22222-2-2-preproc0.h5]\nscans:\n  - file: scans/static22222-2-2-preproc0.h5\n    neurons: many\n' >"$P/f5.yaml"
expect_bad scan-field-not-a-number "f5.yaml:5:" "non-negative integer" --manifest f5.yaml specs/g.yaml
printf 'groups:\n  g: [scans/static22222-2-2-preproc0.h5\n' >"$P/f6.yaml"
expect_bad syntax "f6.yaml:" "syntax" --manifest f6.yaml specs/g.yaml
printf '{"groups": {"g": ["scans/static22222-2-2-preproc0.h5"],\n  "h": {"labels": "H", "files": []}}}\n' >"$P/f7.json"
expect_bad json-manifest "f7.json:2:" "unknown key 'labels'" --manifest f7.json specs/g.yaml
printf 'groups:\n  - {name: g, files: [scans/static22222-2-2-preproc0.h5]}\n  - {name: g, files: [scans/static11111-1-1-preproc0]}\n' >"$P/f8.yaml"
expect_bad group-twice "f8.yaml:3:" "group listed twice (first at line 2)" --manifest f8.yaml specs/g.yaml
expect_bad missing-manifest "nope.yaml" "cannot open" --manifest nope.yaml specs/g.yaml
expect_bad group-without-manifest "specs/g.yaml:2:" "needs a data manifest" specs/g.yaml

echo "test_plan_data: $cases bad cases, $fails failed"
exit $((fails > 0))
