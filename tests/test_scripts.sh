#!/usr/bin/env bash
# test_scripts.sh - issue 16 item 7: scripts/nsid2torch.py runs as a command with Debian's
# Python: executable in git (mode 100755) and on disk, "#!/usr/bin/python3" (the interpreter
# of python3-h5py; the first python3 on PATH may lack it), and `scripts/nsid2torch.py --help`
# prints its usage. Without /usr/bin/python3 the test is skipped (exit 77).
set -u
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SRC/tests/sh_check.sh"
tool="$SRC/scripts/nsid2torch.py"
check "scripts/nsid2torch.py: first line #!/usr/bin/python3" test "$(head -n 1 "$tool")" = "#!/usr/bin/python3"
check "scripts/nsid2torch.py: executable" test -x "$tool"
if git -C "$SRC" rev-parse --verify -q HEAD >/dev/null 2>&1; then
    mode=$(git -C "$SRC" ls-files -s scripts/nsid2torch.py | cut -d' ' -f1)
    check "scripts/nsid2torch.py: git mode 100755 (got $mode)" test "$mode" = 100755
fi
if ! [ -x /usr/bin/python3 ]; then
    echo "test_scripts: skipped: no /usr/bin/python3"
    exit $((fails > 0 ? 1 : 77))
fi
out=$(cd "$SRC" && scripts/nsid2torch.py --help 2>&1); rc=$?
check "scripts/nsid2torch.py --help: exit 0" test "$rc" = 0
check "scripts/nsid2torch.py --help: the usage" grep -q "^usage: nsid2torch.py" <<<"$out"
check "scripts/nsid2torch.py --help: the modes" grep -q -- "--to-torch" <<<"$out"
if /usr/bin/python3 -c "import h5py, numpy" 2>/dev/null; then
    # with h5py: a real conversion error is one message naming the file
    (cd "$SRC" && scripts/nsid2torch.py --to-torch /nonexistent/x.h5 /dev/null) >/dev/null 2>"${TMPDIR:-/tmp}/nsid2torch_err.$$"
    rc=$?
    err="${TMPDIR:-/tmp}/nsid2torch_err.$$"
    check "a missing checkpoint: exit 1" test "$rc" = 1
    check "a missing checkpoint: one message" test "$(wc -l <"$err")" = 1
    check "a missing checkpoint: the message names it" grep -q /nonexistent/x.h5 "$err"
    rm -f "$err"
fi
exit $((fails > 0))
