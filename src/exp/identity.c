/*
 * identity.c - a run's identity text and id (see identity.h, plan.h). Self-contained (no
 * plan or spec code), so that nsid-train and nsid-eval link it alone.
 */
#include "exp/identity.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

/* A bounded writer that counts what did not fit. */
struct out {
    char *buf;
    size_t n, len;
};

static void put(struct out *o, const char *s, size_t k)
{
    if (o->len < o->n) {
        size_t room = o->n - o->len;
        memcpy(o->buf + o->len, s, k < room ? k : room);
    }
    o->len += k;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* s as a JSON string literal. */
static void put_json(struct out *o, const char *s)
{
    put(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(o, esc, 2);
        } else if (*p == '\n') {
            puts_(o, "\\n");
        } else if (*p == '\t') {
            puts_(o, "\\t");
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            puts_(o, esc);
        } else {
            put(o, (const char *)p, 1);
        }
    }
    put(o, "\"", 1);
}

size_t nsid_identity_plan(const struct nsid_config *c, const char *core, const char *const *data_sha, int n_data,
                          char *buf, size_t n, char id[NSID_SHA256_HEX])
{
    struct nsid_config x = *c;
    snprintf(x.model.core.checkpoint, sizeof x.model.core.checkpoint, "%s", core ? core : "");
    size_t len = nsid_config_canonical(&x, NULL, 0);
    struct nsid_err ignored = {0}; /* the caller reports the failure */
    char *canon = NSID_ALLOC(len + 1, &ignored);
    if (!canon) return 0;
    nsid_config_canonical(&x, canon, len + 1);
    /* measure, then write (the id needs the whole text) */
    struct out m = {NULL, 0, 0};
    for (int pass = 0; pass < 2; pass++) {
        struct out o = pass ? (struct out){buf, n ? n - 1 : 0, 0} : m;
        puts_(&o, "{\"config\":");
        puts_(&o, canon);
        puts_(&o, ",\"data\":[");
        for (int i = 0; i < n_data; i++) {
            if (i) puts_(&o, ",");
            put_json(&o, data_sha[i]);
        }
        char tail[64];
        snprintf(tail, sizeof tail, "],\"nsid_identity\":%d}", NSID_IDENTITY_VERSION);
        puts_(&o, tail);
        if (pass == 0) {
            m = o;
            if (!n) break;
        } else {
            buf[o.len < n ? o.len : n - 1] = '\0';
        }
    }
    nsid_alloc_free(canon);
    if (id && buf && m.len < n) nsid_sha256_hex(id, buf, m.len);
    return m.len;
}
