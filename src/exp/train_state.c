/* train_state.c - the resumable state of a training run, in one checksummed file (see train_int.h). */
#include "train_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/sha256.h"
#include "base/infile.h"

static const char MAGIC[8] = {'N', 'S', 'I', 'D', 'T', 'R', 'S', 'T'};
#define BYTE_ORDER_MARK 0x01020304u

/* ---------------------------------------------------------------- writing */

struct wr {
    FILE *f;
    struct nsid_sha256 h;
    bool bad;
};

static void put(struct wr *w, const void *p, size_t n)
{
    if (n == 0) return;
    nsid_sha256_update(&w->h, p, n);
    if (fwrite(p, 1, n, w->f) != n) w->bad = true;
}

static void put_i64(struct wr *w, int64_t v)
{
    put(w, &v, sizeof v);
}

static void put_f64(struct wr *w, double v)
{
    put(w, &v, sizeof v);
}

static void write_all(struct wr *w, const struct nsid__train_state *s)
{
    const struct nsid_params *ps = s->ps;
    const struct nsid_cycler *c = s->cycler;
    uint32_t version = NSID__TRAIN_STATE_VERSION, bom = BYTE_ORDER_MARK;
    put(w, MAGIC, sizeof MAGIC);
    put(w, &version, sizeof version);
    put(w, &bom, sizeof bom);
    put(w, s->run_id, sizeof s->run_id);
    char hex[65];
    memset(hex, 0, sizeof hex);
    snprintf(hex, sizeof hex, "%s", s->id.config_sha);
    put(w, hex, sizeof hex);
    memset(hex, 0, sizeof hex);
    snprintf(hex, sizeof hex, "%s", s->id.core_sha);
    put(w, hex, sizeof hex);
    put_i64(w, s->id.n_data);
    for (int i = 0; i < s->id.n_data; i++) {
        memset(hex, 0, sizeof hex);
        snprintf(hex, sizeof hex, "%s", s->id.data_sha[i]);
        put(w, hex, sizeof hex);
        size_t len = strlen(s->id.data_path[i]);
        put_i64(w, (int64_t)len);
        put(w, s->id.data_path[i], len);
    }
    put_i64(w, (int64_t)ps->n_weights);
    put_i64(w, (int64_t)ps->n_buffers);
    put_i64(w, s->n_ints);
    put_i64(w, c->n_scans);
    for (int k = 0; k < c->n_scans; k++) put_i64(w, c->it[k].v->n_tier[NSID_TIER_TRAIN]);
    put_i64(w, s->finished);
    put_i64(w, s->epoch);
    put_i64(w, s->step);
    put_i64(w, ps->adam_t);
    put_i64(w, s->best->valid);
    put_i64(w, s->loss_batches);
    put_f64(w, s->loss_sum);
    put_f64(w, s->epoch_seconds);
    unsigned char sched[NSID_SCHEDULE_PACKED_BYTES];
    nsid_schedule_pack(&s->sched, sched);
    put(w, sched, sizeof sched);
    put(w, s->sample.s, sizeof s->sample.s);
    for (int k = 0; k < c->n_scans; k++) {
        const struct nsid_train_iter *it = &c->it[k];
        put(w, it->rng.s, sizeof it->rng.s);
        put_i64(w, it->pos);
        put_i64(w, it->passes);
        put(w, it->perm, (size_t)it->v->n_tier[NSID_TIER_TRAIN] * sizeof(int64_t));
    }
    put_i64(w, c->step);
    size_t nw = ps->n_weights * sizeof(float), nb = ps->n_buffers * sizeof(float);
    put(w, ps->w, nw);
    put(w, ps->m, nw);
    put(w, ps->v, nw);
    put(w, ps->buf, nb);
    put(w, s->best->w, nw);
    put(w, s->best->buf, nb);
    for (int i = 0; i < s->n_ints; i++) put_i64(w, *s->ints[i]);
    put(w, s->best->ints, (size_t)s->n_ints * sizeof(int64_t));
}

/* fsync the folder holding path, so the rename is durable. */
static void sync_dir(const char *path)
{
    char buf[NSID_ERR_FILE_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int nsid__train_state_save(const struct nsid__train_state *s, const char *path, struct nsid_err *err)
{
    char tmp[NSID_ERR_FILE_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    struct wr w = {.f = fopen(tmp, "wb")};
    if (!w.f) return nsid_err_set(err, NSID_EIO, tmp, 0, "train state", "cannot create: %s", strerror(errno));
    nsid_sha256_init(&w.h);
    write_all(&w, s);
    unsigned char digest[NSID_SHA256_BYTES];
    nsid_sha256_final(&w.h, digest);
    if (fwrite(digest, 1, sizeof digest, w.f) != sizeof digest) w.bad = true;
    if (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0) w.bad = true;
    if (fclose(w.f) != 0) w.bad = true;
    if (w.bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return nsid_err_set(err, NSID_EIO, path, 0, "train state", "write failed: %s", strerror(e));
    }
    sync_dir(path);
    return 0;
}

/* ---------------------------------------------------------------- reading */

struct rd {
    const unsigned char *p; /* cursor */
    const unsigned char *end;
    bool short_read;
};

static const void *take(struct rd *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->short_read = true;
        return NULL;
    }
    const void *q = r->p;
    r->p += n;
    return q;
}

static int64_t get_i64(struct rd *r)
{
    int64_t v = 0;
    const void *q = take(r, sizeof v);
    if (q) memcpy(&v, q, sizeof v);
    return v;
}

static double get_f64(struct rd *r)
{
    double v = 0;
    const void *q = take(r, sizeof v);
    if (q) memcpy(&v, q, sizeof v);
    return v;
}

/* The whole file into memory after checking size and checksum. */
static int slurp(const char *path, unsigned char **data, size_t *n, struct nsid_err *err)
{
    FILE *f = nsid_infile_fopen(path, "train state", err);
    if (!f) return err->code < 0 ? err->code : NSID_EIO;
    struct stat st;
    int rc = fstat(fileno(f), &st) == 0 ? 0 : NSID_EIO;
    size_t size = rc == 0 ? (size_t)st.st_size : 0;
    if (rc == 0 && size < sizeof MAGIC + 8 + 65 + NSID_SHA256_BYTES)
        rc = nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "truncated (%zu bytes)", size);
    unsigned char *buf = rc == 0 ? NSID_ALLOC(size, err) : NULL;
    if (rc == 0 && !buf) rc = NSID_ENOMEM;
    if (rc == 0 && fread(buf, 1, size, f) != size)
        rc = nsid_err_set(err, NSID_EIO, path, 0, "train state", "read failed");
    fclose(f);
    if (rc == 0) {
        unsigned char digest[NSID_SHA256_BYTES];
        struct nsid_sha256 h;
        nsid_sha256_init(&h);
        nsid_sha256_update(&h, buf, size - NSID_SHA256_BYTES);
        nsid_sha256_final(&h, digest);
        if (memcmp(digest, buf + size - NSID_SHA256_BYTES, NSID_SHA256_BYTES) != 0)
            rc = nsid_err_set(err, NSID_EFORMAT, path, 0, "train state",
                              "checksum mismatch (damaged or partly written file): delete it to start over");
        else if (memcmp(buf, MAGIC, sizeof MAGIC) != 0)
            rc = nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "not an nsid training state");
    }
    if (rc < 0) {
        nsid_alloc_free(buf);
        return rc;
    }
    *data = buf;
    *n = size - NSID_SHA256_BYTES;
    return 0;
}

/* Header: magic, version, byte order, run id. */
static int read_header(struct rd *r, const char *path, char run_id[65], struct nsid_err *err)
{
    take(r, sizeof MAGIC);
    uint32_t version = 0, bom = 0;
    const void *q = take(r, 4);
    if (q) memcpy(&version, q, 4);
    q = take(r, 4);
    if (q) memcpy(&bom, q, 4);
    if (version != NSID__TRAIN_STATE_VERSION)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "format version %u, this nsid reads %d",
                            version, NSID__TRAIN_STATE_VERSION);
    if (bom != BYTE_ORDER_MARK)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "written on a machine of other byte order");
    q = take(r, 65);
    if (!q) return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "truncated header");
    memcpy(run_id, q, 65);
    run_id[64] = '\0';
    return 0;
}

int nsid__train_state_peek(const char *path, char run_id[65], struct nsid_err *err)
{
    unsigned char *buf;
    size_t n;
    int rc = slurp(path, &buf, &n, err);
    if (rc < 0) return rc;
    struct rd r = {buf, buf + n, false};
    rc = read_header(&r, path, run_id, err);
    nsid_alloc_free(buf);
    return rc;
}

/* A 65-byte hex field (NUL-terminated inside) into out; false if truncated. */
static bool get_hex(struct rd *r, char out[65])
{
    const void *q = take(r, 65);
    if (!q) return false;
    memcpy(out, q, 65);
    out[64] = '\0';
    return true;
}

/* Short form of a hash for messages. */
static const char *short_sha(const char *sha)
{
    return sha[0] ? sha : "(none)";
}

/*
 * The identity block against s->id: the configuration, the core checkpoint, the scans and
 * their order must be the ones the state was saved with (both named when not).
 */
static int check_identity(struct rd *r, const struct nsid__train_state *s, const char *path, struct nsid_err *err)
{
    const struct nsid__train_identity *id = &s->id;
    char cfg[65], core[65];
    if (!get_hex(r, cfg) || !get_hex(r, core))
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "truncated");
    int64_t n = get_i64(r);
    if (r->short_read || n < 0 || n > 1000000)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "bad number of scans");
    if (strcmp(cfg, id->config_sha) != 0)
        return nsid_err_set(err, NSID_EINVAL, path, 0, "train state",
                            "run %s was saved with configuration sha256 %.16s, the configuration now is %.16s: "
                            "resuming would mix two models (use another --out or --run-id, or delete the state "
                            "to start over)", s->run_id, cfg, id->config_sha);
    if (strcmp(core, id->core_sha) != 0)
        return nsid_err_set(err, NSID_EINVAL, path, 0, "train state",
                            "run %s was saved with core checkpoint sha256 %.16s, model.core.checkpoint now is "
                            "%.16s: resuming would mix two models (use another --out or --run-id, or delete the "
                            "state to start over)", s->run_id, short_sha(core), short_sha(id->core_sha));
    int bad = -1, found = -1;
    char saved_sha[65] = "", saved_path[256] = "";
    char (*all)[65] = NULL;
    if (n == id->n_data && n > 0 && !(all = NSID_ALLOC((size_t)n * sizeof *all, err))) return NSID_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        char sha[65];
        bool ok = get_hex(r, sha);
        int64_t len = get_i64(r);
        const char *p = ok && len >= 0 && len < (1 << 20) ? take(r, (size_t)len) : NULL;
        if (!p || r->short_read) {
            nsid_alloc_free(all);
            return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "truncated");
        }
        if (all) memcpy(all[i], sha, 65);
        if (bad < 0 && (i >= id->n_data || strcmp(sha, id->data_sha[i]) != 0)) {
            bad = (int)i;
            memcpy(saved_sha, sha, 65);
            snprintf(saved_path, sizeof saved_path, "%.*s", (int)(len < 255 ? len : 255), p);
        }
    }
    if (bad < 0 && n != id->n_data) bad = (int)n;
    /* the same scans (as a multiset) in another order? all[] entries matched are blanked */
    bool permuted = bad >= 0 && all != NULL;
    if (bad >= 0 && bad < id->n_data)
        for (int j = 0; j < n && all && found < 0; j++)
            if (strcmp(all[j], id->data_sha[bad]) == 0) found = j;
    for (int i = 0; permuted && i < id->n_data; i++) {
        bool hit = false;
        for (int j = 0; j < n && !hit; j++)
            if (strcmp(all[j], id->data_sha[i]) == 0) {
                hit = true;
                all[j][0] = '\0';
            }
        permuted = hit;
    }
    nsid_alloc_free(all);
    if (bad < 0) return 0;
    if (n != id->n_data)
        return nsid_err_set(err, NSID_EINVAL, path, 0, "train state",
                            "run %s was saved with %lld --data scan(s), now %d are given: resuming would mix two "
                            "models (use another --out or --run-id, or delete the state to start over)",
                            s->run_id, (long long)n, id->n_data);
    if (permuted)
        return nsid_err_set(err, NSID_EINVAL, path, 0, "train state",
                            "run %s was saved with --data in another order: scan %d was %s, now %s (saved as scan "
                            "%d); give --data in the saved order, or delete the state to start over",
                            s->run_id, bad + 1, saved_path, id->data_path[bad], found + 1);
    return nsid_err_set(err, NSID_EINVAL, path, 0, "train state",
                        "run %s was saved with --data scan %d %s of content sha256 %.16s, now %s is %.16s (the "
                        "scan changed): resuming would mix two models (use another --out or --run-id, or delete "
                        "the state to start over)", s->run_id, bad + 1, saved_path, saved_sha, id->data_path[bad],
                        id->data_sha[bad]);
}

/* Check the recorded sizes against the live objects. */
static int check_sizes(struct rd *r, const struct nsid__train_state *s, const char *path, struct nsid_err *err)
{
    int64_t want[4] = {(int64_t)s->ps->n_weights, (int64_t)s->ps->n_buffers, s->n_ints, s->cycler->n_scans};
    static const char *const what[4] = {"weights", "buffers", "int64 entries", "scans"};
    for (int i = 0; i < 4; i++) {
        int64_t got = get_i64(r);
        if (got != want[i])
            return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state",
                                "%lld %s saved, the run now has %lld: the configuration or data changed "
                                "(delete the state to start over)", (long long)got, what[i], (long long)want[i]);
    }
    for (int k = 0; k < s->cycler->n_scans; k++) {
        int64_t got = get_i64(r), n = s->cycler->it[k].v->n_tier[NSID_TIER_TRAIN];
        if (got != n)
            return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state",
                                "scan %d had %lld training trials, now %lld: the data changed", k, (long long)got,
                                (long long)n);
    }
    return 0;
}

/* Parse everything into staging copies, then (only if all is well) into s. */
static int parse_body(struct rd *r, struct nsid__train_state *s, const char *path, struct nsid_err *err)
{
    struct nsid__train_state t = *s;
    t.finished = get_i64(r) != 0;
    t.epoch = get_i64(r);
    t.step = get_i64(r);
    int64_t adam_t = get_i64(r);
    bool best_valid = get_i64(r) != 0;
    t.loss_batches = get_i64(r);
    t.loss_sum = get_f64(r);
    t.epoch_seconds = get_f64(r);
    const unsigned char *sched = take(r, NSID_SCHEDULE_PACKED_BYTES);
    if (!sched) return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "truncated");
    int rc = nsid_schedule_unpack(&t.sched, sched, NSID_SCHEDULE_PACKED_BYTES, err);
    if (rc < 0) return rc;
    const void *q = take(r, sizeof t.sample.s);
    if (q) memcpy(t.sample.s, q, sizeof t.sample.s);
    const unsigned char *scan_start = r->p;
    for (int k = 0; k < s->cycler->n_scans; k++) {
        take(r, sizeof(uint64_t) * 4 + 16);
        take(r, (size_t)s->cycler->it[k].v->n_tier[NSID_TIER_TRAIN] * sizeof(int64_t));
    }
    int64_t cstep = get_i64(r);
    size_t nw = s->ps->n_weights * sizeof(float), nb = s->ps->n_buffers * sizeof(float);
    const void *w = take(r, nw), *m = take(r, nw), *v = take(r, nw), *buf = take(r, nb);
    const void *bw = take(r, nw), *bbuf = take(r, nb);
    const void *ints = take(r, (size_t)s->n_ints * sizeof(int64_t));
    const void *bints = take(r, (size_t)s->n_ints * sizeof(int64_t));
    if (r->short_read || r->p != r->end)
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "%s",
                            r->short_read ? "truncated" : "longer than its sizes say");
    int64_t len = nsid_batch_cycler_epoch_len(s->cycler);
    if (t.step < 0 || t.step > len || cstep < 0 || cstep > len || (t.step > 0 && cstep != t.step))
        return nsid_err_set(err, NSID_EFORMAT, path, 0, "train state", "batch position %lld of an epoch of %lld",
                            (long long)t.step, (long long)nsid_batch_cycler_epoch_len(s->cycler));
    /* all checked: commit */
    struct rd sr = {scan_start, r->end, false};
    for (int k = 0; k < s->cycler->n_scans; k++) {
        struct nsid_train_iter *it = &s->cycler->it[k];
        memcpy(it->rng.s, take(&sr, sizeof it->rng.s), sizeof it->rng.s);
        it->pos = get_i64(&sr);
        it->passes = get_i64(&sr);
        memcpy(it->perm, take(&sr, (size_t)it->v->n_tier[NSID_TIER_TRAIN] * sizeof(int64_t)),
               (size_t)it->v->n_tier[NSID_TIER_TRAIN] * sizeof(int64_t));
    }
    s->cycler->step = cstep;
    memcpy(s->ps->w, w, nw);
    memcpy(s->ps->m, m, nw);
    memcpy(s->ps->v, v, nw);
    memcpy(s->ps->buf, buf, nb);
    s->ps->adam_t = adam_t;
    memcpy(s->best->w, bw, nw);
    memcpy(s->best->buf, bbuf, nb);
    memcpy(s->best->ints, bints, (size_t)s->n_ints * sizeof(int64_t));
    s->best->valid = best_valid;
    for (int i = 0; i < s->n_ints; i++) memcpy(s->ints[i], (const int64_t *)ints + i, sizeof(int64_t));
    s->finished = t.finished;
    s->epoch = t.epoch;
    s->step = t.step;
    s->loss_sum = t.loss_sum;
    s->loss_batches = t.loss_batches;
    s->epoch_seconds = t.epoch_seconds;
    s->sched = t.sched;
    s->sample = t.sample;
    return 0;
}

int nsid__train_state_load(struct nsid__train_state *s, const char *path, struct nsid_err *err)
{
    unsigned char *buf;
    size_t n;
    int rc = slurp(path, &buf, &n, err);
    if (rc < 0) return rc;
    struct rd r = {buf, buf + n, false};
    char id[65];
    rc = read_header(&r, path, id, err);
    if (rc == 0 && strcmp(id, s->run_id) != 0)
        rc = nsid_err_set(err, NSID_EINVAL, path, 0, "train state",
                          "belongs to run %s, this is run %s: use another --out, or delete the state", id, s->run_id);
    if (rc == 0) rc = check_identity(&r, s, path, err);
    if (rc == 0) rc = check_sizes(&r, s, path, err);
    if (rc == 0) rc = parse_body(&r, s, path, err);
    nsid_alloc_free(buf);
    return rc;
}
