#!/usr/bin/env bash
# test_store_sql.sh - issue 19 item 3: cmake/embed_sql.cmake, which embeds the store's SQL files
# (src/exp/sql/*.sql) into libnsid at build time. On small files of its own: each statement
# becomes one {name, text} entry in file order, comments are dropped, quotes, backslashes and
# semicolons inside a statement survive (the generated C compiles and prints the statements
# back), and a file it cannot read as statements is refused naming the file (and the line).
# Also: src/exp/sql/*.sql embed as they are (every statement named).
set -u
SRC=${NSID_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SRC/tests/sh_check.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/nsid_store_sql_XXXXXX")
trap 'rm -rf "$T"' EXIT
# embed_sql.cmake on folder $1, parts $2, into $3 (cmake wraps its messages: checks join the lines)
embed() { cmake -DSQL_DIR="$1" -DPARTS="$2" -DOUT="$3" -P "$SRC/cmake/embed_sql.cmake"; }

mkdir -p "$T/ok" "$T/inc/exp"
cat >"$T/ok/tables.sql" <<'SQL'
-- a comment line, not embedded
CREATE TABLE IF NOT EXISTS t (
    a TEXT NOT NULL,  -- a trailing comment, not embedded
    b TEXT DEFAULT 'x;y') STRICT;

CREATE INDEX IF NOT EXISTS t_a ON t (a);
SQL
cat >"$T/ok/views.sql" <<'SQL'
CREATE VIEW v AS SELECT a, 'it''s "quoted"' AS q,
    b LIKE '%\_z' ESCAPE '\' AS e FROM t;
INSERT OR REPLACE INTO t (a) VALUES ('one');
DELETE FROM t;
SQL
check "a well-formed pair of files embeds" embed "$T/ok" tables,views "$T/ok.c"
# the arrays store_int.h declares, with a stand-in for its struct, printed back
cat >"$T/inc/exp/store_int.h" <<'H'
#include <stddef.h>
struct nsid__store_sql { const char *name; const char *sql; };
extern const struct nsid__store_sql nsid__store_sql_tables[], nsid__store_sql_views[];
extern const size_t nsid__store_sql_n_tables, nsid__store_sql_n_views;
H
cat >"$T/main.c" <<'C'
#include <stdio.h>
#include "exp/store_int.h"
int main(void)
{
    for (size_t i = 0; i < nsid__store_sql_n_tables; i++) printf("[%s]\n%s\n", nsid__store_sql_tables[i].name, nsid__store_sql_tables[i].sql);
    for (size_t i = 0; i < nsid__store_sql_n_views; i++) printf("[%s]\n%s\n", nsid__store_sql_views[i].name, nsid__store_sql_views[i].sql);
    return 0;
}
C
check "the generated C compiles without warnings" \
    cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$T/inc" -o "$T/print" "$T/main.c" "$T/ok.c"
"$T/print" >"$T/got" 2>&1
cat >"$T/want" <<'SQL'
[t]
CREATE TABLE IF NOT EXISTS t (
a TEXT NOT NULL,
b TEXT DEFAULT 'x;y') STRICT
[t_a]
CREATE INDEX IF NOT EXISTS t_a ON t (a)
[v]
CREATE VIEW v AS SELECT a, 'it''s "quoted"' AS q,
b LIKE '%\_z' ESCAPE '\' AS e FROM t
[t]
INSERT OR REPLACE INTO t (a) VALUES ('one')
[t]
DELETE FROM t
SQL
check "the statements come back as written, named, in order, without comments" diff "$T/want" "$T/got"

# refused: a statement without ';' at the end of its last line, a statement of another kind
mkdir -p "$T/open" "$T/kind"
printf 'CREATE VIEW w AS SELECT 1\n' >"$T/open/views.sql"
out=$(embed "$T/open" views "$T/open.c" 2>&1); rc=$?
out=$(tr -s ' \n' '  ' <<<"$out")
check "a statement without ';' is refused" test "$rc" != 0
check "... naming the file ($out)" grep -q "open/views.sql: the last statement has no ';'" <<<"$out"
check "... and nothing is written" test ! -e "$T/open.c"
printf 'CREATE VIEW w AS SELECT 1;\nPRAGMA user_version = 9;\n' >"$T/kind/views.sql"
out=$(embed "$T/kind" views "$T/kind.c" 2>&1); rc=$?
out=$(tr -s ' \n' '  ' <<<"$out")
check "a statement that is not CREATE, INSERT or DELETE is refused" test "$rc" != 0
check "... naming the file and line ($out)" grep -q "kind/views.sql:2: a statement that is not CREATE" <<<"$out"

# the project's own files: every statement named, the generated file unchanged when rerun
check "src/exp/sql embeds" embed "$SRC/src/exp/sql" tables,views,reference "$T/store.c"
n_create=$(cat "$SRC"/src/exp/sql/*.sql | grep -cE '^(CREATE|INSERT|DELETE) ')
n_entries=$(grep -c '^    {"' "$T/store.c")
check "one entry per statement of src/exp/sql ($n_entries of $n_create)" test "$n_entries" = "$n_create"
touch -d '2000-01-01' "$T/store.c"
embed "$SRC/src/exp/sql" tables,views,reference "$T/store.c"
check "rerun: the file is not rewritten (no rebuild)" test "$(date -r "$T/store.c" +%Y)" = 2000
exit $((fails > 0))
