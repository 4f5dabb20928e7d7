# doc_block.sh - the commands a doc shows, for tests that run them verbatim (sourced, not a test):
#
#   doc_block FILE HEADING [N]
#
# prints the Nth (default 1st) indented code block (lines indented by 4 spaces, the markdown
# form README.md and docs/ use) under the heading line HEADING of FILE (its exact text, e.g.
# "## Using nsid on your own recordings"), before the next heading, with the indent removed.
# Exit status 1 when there is no such block, so a renamed heading or a removed block fails the
# test that runs it instead of running nothing.
doc_block() {
    local file=$1 heading=$2 n=${3:-1}
    awk -v h="$heading" -v n="$n" '
        $0 == h { inside = 1; k = 0; inblock = 0; next }
        inside && /^#/ { exit }
        inside && /^    / { if (!inblock) { k++; inblock = 1 } if (k == n) { print substr($0, 5); found = 1 } next }
        inside && /^[ \t]*$/ { if (inblock && k == n) print ""; next }
        inside { if (inblock && k == n) exit; inblock = 0 }
        END { exit !found }' "$file"
}
