/*
 * store_sql.c - the schema of the results store, its views and the paper's digitised reference
 * values, as the library holds them: the statements are in src/exp/sql/tables.sql, views.sql and
 * reference.sql, embedded at build time (cmake/embed_sql.cmake makes the arrays
 * nsid__store_sql_<part>[] of a generated C file); this file hands them out.
 *
 * One thing of the views comes from C: the reasons a metric can be undefined are eval.h's
 * NSID_UNDEF_REASONS, and views.sql names their rows @NSID_UNDEF_REASONS@.
 */
#include "store_int.h"

#include <string.h>

#include "base/alloc.h"
#include "exp/eval.h"

/* The reasons of eval.h's NSID_UNDEF_REASONS as rows (code, reason). */
#define UNDEF_REASON_ROW(code, text) "SELECT " #code " AS code, '" text "' AS reason UNION ALL "
static const char UNDEF_REASON_ROWS[] = NSID_UNDEF_REASONS(UNDEF_REASON_ROW) "SELECT 0, 'defined'";
static const char UNDEF_TOKEN[] = "@NSID_UNDEF_REASONS@";

size_t nsid__store_n_tables(void)
{
    return nsid__store_sql_n_tables;
}

const struct nsid__store_sql *nsid__store_table(size_t i)
{
    return i < nsid__store_sql_n_tables ? &nsid__store_sql_tables[i] : NULL;
}

size_t nsid__store_n_views(void)
{
    return nsid__store_sql_n_views;
}

const struct nsid__store_sql *nsid__store_view(size_t i)
{
    return i < nsid__store_sql_n_views ? &nsid__store_sql_views[i] : NULL;
}

char *nsid__store_view_sql(size_t i, struct nsid_err *err)
{
    const char *sql = nsid__store_sql_views[i].sql, *at = strstr(sql, UNDEF_TOKEN);
    size_t n = strlen(sql), head = at ? (size_t)(at - sql) : n, k = sizeof UNDEF_TOKEN - 1;
    size_t rows = at ? sizeof UNDEF_REASON_ROWS - 1 : 0, total = at ? n - k + rows : n;
    char *out = NSID_ALLOC(total + 1, err);
    if (!out) return NULL;
    memcpy(out, sql, head);
    if (at) {
        memcpy(out + head, UNDEF_REASON_ROWS, rows);
        memcpy(out + head + rows, at + k, n - head - k);
    }
    out[total] = '\0';
    return out;
}

size_t nsid__store_n_reference(void)
{
    return nsid__store_sql_n_reference;
}

const struct nsid__store_sql *nsid__store_reference(size_t i)
{
    return i < nsid__store_sql_n_reference ? &nsid__store_sql_reference[i] : NULL;
}
