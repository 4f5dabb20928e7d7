/* json.c - jansson-based reading and the one JSON string escaper (see json.h). */
#include "base/json.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64

/* Deepest nesting of arrays and objects under v (jansson itself allows 2048); stops counting past MAX_DEPTH. */
static int depth(json_t *v)
{
    if (!json_is_object(v) && !json_is_array(v)) return 0;
    int d = 0;
    void *it = json_object_iter(v); /* NULL for an array */
    for (size_t i = 0; d <= MAX_DEPTH; i++) {
        json_t *x = json_is_object(v) ? (it ? json_object_iter_value(it) : NULL) : json_array_get(v, i);
        if (!x) break;
        int e = depth(x);
        if (e > d) d = e;
        if (it) it = json_object_iter_next(v, it);
    }
    return d + 1;
}

int nsid_json_parse(const char *text, size_t len, const char *file, json_t **out, struct nsid_err *err)
{
    json_error_t je;
    *out = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!*out)
        return nsid_err_set(err, NSID_EFORMAT, file, je.line > 0 ? je.line : 1, NULL, "invalid JSON near byte %d: %s",
                            je.position, je.text);
    if (depth(*out) > MAX_DEPTH) {
        json_decref(*out);
        *out = NULL;
        return nsid_err_set(err, NSID_EFORMAT, file, 1, NULL, "invalid JSON: nested more than %d levels deep",
                            MAX_DEPTH);
    }
    return 0;
}

/* Append k bytes to buf (snprintf-like bookkeeping: len counts everything, buf keeps room for the NUL). */
static void put(char *buf, size_t n, size_t *len, const char *s, size_t k)
{
    for (size_t i = 0; i < k; i++, (*len)++)
        if (*len + 1 < n) buf[*len] = s[i];
}

size_t nsid_json_quote(const char *s, char *buf, size_t n)
{
    size_t len = 0;
    put(buf, n, &len, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *e = NULL;
        switch (*p) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        default: break;
        }
        char u[8];
        if (!e && *p < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", *p);
            e = u;
        }
        if (e) put(buf, n, &len, e, strlen(e));
        else put(buf, n, &len, (const char *)p, 1);
    }
    put(buf, n, &len, "\"", 1);
    if (n) buf[len < n ? len : n - 1] = '\0';
    return len;
}
