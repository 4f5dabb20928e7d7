#!/bin/bash
# test_doc_paths.sh - no doc, help text, comment or string names a repository path that does not
# exist, nor a file outside the repository (issue 16 item 6: a clone has nothing beside it).
# Reads README.md, docs/*.md, every text file under src/ pipeline/ scripts/ tests/ plots/
# experiments/ results/ .ci/, CMakeLists.txt and Makefile.experiments (tracked or new, not ignored),
# and the --help and --help-config output of every stage binary (pipeline/nsid-*.c). What counts
# as a path is defined in tests/doc_paths.pl; a generated output (ignored by git) may be named
# before it exists. Also: every citation "docs/paper.md §N" names a section that page has.
# Self-check first: a text with one broken reference of each kind must be caught, line by line,
# and a text of good references must pass, so the checker cannot pass by finding nothing.
set -u
src=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${NSID_BIN:-$src/build}
. "$src/tests/sh_check.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

if ! git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "skip: $src is not a git work tree (the check needs git's ignore rules)"; exit 77
fi
chk() { perl "$src/tests/doc_paths.pl" "$src" "$1"; }

# ---- self-check: the broken names are built from pieces so that this file itself stays clean
d=docs; s=src; up=..
{
    printf 'See %s/nothere.md for the rest.\n' "$d"                # 1: a missing page
    printf '/* the parser (%s/exp/gone.c) */\n' "$s"              # 2: a missing source file
    printf 'The design is in %s/%s/DESIGN.md.\n' "$up" shared # 3: outside the repository
    printf 'every number in %s.md\n' "PAPER"                       # 4: a bare page name
    printf 'from /%s/shared/INFRA.md\n' "work"                     # 5: the development machine
    printf '[the model](%s/nothere.md)\n' "$up"                    # 6: a relative link to nothing
    printf 'fixtures in %s/fixtures/nodir/<name>.h5\n' "tests"     # 7: a pattern under no folder
} > "$tmp/bad.md"
printf 'self-check\t%s\tdocs\n' "$tmp/bad.md" > "$tmp/bad.list"
chk "$tmp/bad.list" > "$tmp/bad.out"; rc=$?
cat "$tmp/bad.out"
check "self-check: a text with broken references fails" test "$rc" -ne 0
for n in 1 2 3 4 5 6 7; do
    check "self-check: broken reference on line $n reported" grep -q "^self-check:$n: " "$tmp/bad.out"
done
{
    echo 'See docs/design.md, docs/paper.md §4.4 and [the data page](data.md), src/exp/spec.h,'
    echo 'tests/fixtures/model/<cfg>.h5, plots/gp/NAME.gp, pipeline/nsid-train and ../README.md.'
    echo 'Generated: results/REPORT.md, REPORT.md, plots/data/fig5.csv, build/nsid-train, data/quick/.'
    echo 'Not ours: /usr/src/linux, $T/results/x, neuralpredictors/data/datasets.py, .../static1.h5.'
} > "$tmp/good.md"
printf 'self-check\t%s\tdocs\n' "$tmp/good.md" > "$tmp/good.list"
check "self-check: good references pass" chk "$tmp/good.list"

# ---- the repository's texts
cd "$src" || exit 1
git ls-files -co --exclude-standard -- README.md docs src pipeline scripts tests plots experiments \
        results .ci CMakeLists.txt Makefile.experiments |
    while IFS= read -r f; do
        [ -f "$f" ] && grep -Iq . "$f" && printf '%s\t%s\t%s\n' "$f" "$src/$f" "$(dirname "$f")"
    done > "$tmp/repo.list"
check "the repository has texts to check ($(wc -l < "$tmp/repo.list"))" test "$(wc -l < "$tmp/repo.list")" -gt 100
check "docs, comments and strings name only paths that exist" chk "$tmp/repo.list"

# ---- help texts of every stage binary
: > "$tmp/help.list"
for c in pipeline/nsid-*.c; do
    b=$(basename "$c" .c)
    if [ ! -x "$bin/$b" ]; then fail "$bin/$b is built"; continue; fi
    "$bin/$b" --help > "$tmp/$b.help" 2>&1 || fail "$b --help exits 0"
    printf '%s\t%s\t.\n' "$b --help" "$tmp/$b.help" >> "$tmp/help.list"
    if "$bin/$b" --help-config > "$tmp/$b.config" 2>/dev/null; then
        printf '%s\t%s\t.\n' "$b --help-config" "$tmp/$b.config" >> "$tmp/help.list"
    fi
done
check "stage help texts checked ($(wc -l < "$tmp/help.list"))" test "$(wc -l < "$tmp/help.list")" -ge 6
check "--help and --help-config name only paths that exist" chk "$tmp/help.list"

# ---- section citations: every "docs/paper.md §N" (and §N.M) names a section the page has
sections() { grep -oE '^#+ [0-9]+(\.[0-9]+)?' "$1" | awk '{sub(/\.$/, "", $2); print $2}' | sort -u; }
cited() {   # the sections cited in the files given, one per line, as FILE: §N
    grep -oHE 'docs/paper\.md ?§ ?[0-9]+(\.[0-9]+)?' "$@" | sed -E 's/docs\/paper\.md ?§ ?/§/' | sort -u
}
bad_citations() {   # PAGE FILES...: the citations of FILES that PAGE lacks
    local page=$1; shift
    sections "$page" > "$tmp/have"
    cited "$@" | while IFS= read -r c; do
        grep -qxF "${c##*§}" "$tmp/have" || echo "$c: no such section in docs/paper.md"
    done
}
p=docs/paper.md
printf 'see %s §4.4 and %s §12.3\n' "$p" "$p" > "$tmp/cite.txt"
check "self-check: a citation of a missing section is reported" \
    test "$(bad_citations "$src/docs/paper.md" "$tmp/cite.txt" | grep -c '§12.3')" = 1
check "self-check: a citation of an existing section is not" \
    test "$(bad_citations "$src/docs/paper.md" "$tmp/cite.txt" | grep -c '§4.4')" = 0
cut -f2 "$tmp/repo.list" "$tmp/help.list" > "$tmp/all.files"
mapfile -t all < "$tmp/all.files"
bad_citations "$src/docs/paper.md" "${all[@]}" | sed "s#^$src/##" > "$tmp/cite.out"
cat "$tmp/cite.out"
check "every 'docs/paper.md §N' cites a section of docs/paper.md ($(cited "${all[@]}" | wc -l) citations)" \
    test ! -s "$tmp/cite.out"
exit $((fails > 0))
