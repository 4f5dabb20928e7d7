# sh_check.sh - the assertions the shell tests share (sourced, not a test: CMake runs test_*.sh).
#   check "what" command...   runs the command; prints "ok: what" or "FAIL: what" and counts it
#   fail "what"               counts a failure found some other way
#   not_grep grep-args...     true when grep finds nothing
#   logged FILE command...    runs the command with its output into FILE, shown on failure
# The caller ends with: exit $((fails > 0))
fails=0
check() {
    local what=$1; shift
    if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
not_grep() { ! grep -q "$@"; }
logged() { # logged FILE command...: run with output into FILE, shown on failure
    local f=$1; shift
    "$@" >"$f" 2>&1 || { tail -n 30 "$f"; return 1; }
}
