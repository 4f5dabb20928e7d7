/* scanid.c - a scan's content identity for both layouts, with a stat-only cache (see scanid.h). */
#include "data/scanid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/infile.h"

#define TREE_MAX_DEPTH 32
#define TREE_HEADER "nsid-scan-tree 1\n"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    struct nsid_err ignored = {0}; /* the caller reports the failure */
    char *d = NSID_ALLOC(n, &ignored);
    if (d) memcpy(d, s, n);
    return d;
}

static const char *kind_of_mode(mode_t m)
{
    return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) ? "a character device"
           : S_ISBLK(m) ? "a block device" : "not a regular file";
}

/* ---- the cache ---------------------------------------------------------------------------------- */

void nsid_scanid_cache_init(struct nsid_scanid_cache *c)
{
    memset(c, 0, sizeof *c);
}

void nsid_scanid_cache_free(struct nsid_scanid_cache *c)
{
    if (!c) return;
    for (int i = 0; i < c->n; i++) nsid_alloc_free(c->e[i].path);
    nsid_alloc_free(c->e);
    nsid_alloc_free(c->slot);
    memset(c, 0, sizeof *c);
}

static uint64_t path_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The slot of path: its entry's, or the empty one where it belongs. */
static int *cache_slot(const struct nsid_scanid_cache *c, const char *path)
{
    int mask = c->n_slot - 1;
    for (int s = (int)(path_hash(path) & (uint64_t)mask);; s = (s + 1) & mask)
        if (c->slot[s] < 0 || strcmp(c->e[c->slot[s]].path, path) == 0) return &c->slot[s];
}

static bool cache_rehash(struct nsid_scanid_cache *c, int n_slot)
{
    struct nsid_err ignored = {0}; /* the caller reports the failure */
    int *slot = NSID_ALLOC((size_t)n_slot * sizeof *slot, &ignored);
    if (!slot) return false;
    for (int i = 0; i < n_slot; i++) slot[i] = -1;
    nsid_alloc_free(c->slot);
    c->slot = slot;
    c->n_slot = n_slot;
    for (int i = 0; i < c->n; i++) *cache_slot(c, c->e[i].path) = i;
    return true;
}

static struct nsid_scanid_entry *cache_find(const struct nsid_scanid_cache *c, const char *path)
{
    if (!c || !c->n_slot) return NULL;
    int i = *cache_slot(c, path);
    return i >= 0 ? &c->e[i] : NULL;
}

/* Put (or replace) an entry; on allocation failure the cache just stops growing. */
static void cache_put(struct nsid_scanid_cache *c, const char *path, int64_t size, int64_t s, int64_t ns,
                      const char *sha, bool used)
{
    if (!c || c->oom) return;
    struct nsid_scanid_entry *e = cache_find(c, path);
    if (!e) {
        struct nsid_err ignored = {0}; /* the caller reports the failure */
        if (NSID_GROW(c->e, c->n, c->cap, 256, &ignored) < 0) {
            c->oom = true;
            return;
        }
        if (2 * (c->n + 1) > c->n_slot && !cache_rehash(c, c->n_slot ? 2 * c->n_slot : 1024)) {
            c->oom = true;
            return;
        }
        char *p = dup_str(path);
        if (!p) {
            c->oom = true;
            return;
        }
        e = &c->e[c->n];
        memset(e, 0, sizeof *e);
        e->path = p;
        *cache_slot(c, path) = c->n++;
    }
    e->size = size;
    e->mtime_s = s;
    e->mtime_ns = ns;
    snprintf(e->sha, sizeof e->sha, "%s", sha);
    e->used = e->used || used;
}

static bool is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return s[64] == '\0';
}

void nsid_scanid_cache_load(struct nsid_scanid_cache *c, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) return;
    char line[PATH_MAX + 200];
    while (fgets(line, sizeof line, f)) {
        char sha[80];
        long long size, s, ns;
        int off = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "%79s %lld %lld %lld %n", sha, &size, &s, &ns, &off) != 4 || line[off] != '/' ||
            !is_hex64(sha))
            continue;
        cache_put(c, line + off, size, s, ns, sha, false);
    }
    fclose(f);
    c->dirty = false;
}

bool nsid_scanid_cache_save(struct nsid_scanid_cache *c, const char *file)
{
    if (!c->dirty) return true;
    char tmp[PATH_MAX + 32];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", file, (long)getpid()) >= (int)sizeof tmp) return false;
    FILE *f = fopen(tmp, "w");
    if (!f) return false;
    for (int i = 0; i < c->n; i++) {
        const struct nsid_scanid_entry *e = &c->e[i];
        struct stat sb;
        if (!e->used && (stat(e->path, &sb) != 0 || (int64_t)sb.st_size != e->size ||
                         (int64_t)sb.st_mtim.tv_sec != e->mtime_s || (int64_t)sb.st_mtim.tv_nsec != e->mtime_ns))
            continue; /* stale */
        fprintf(f, "%s %lld %lld %lld %s\n", e->sha, (long long)e->size, (long long)e->mtime_s, (long long)e->mtime_ns,
                e->path);
    }
    bool ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, file) != 0) {
        remove(tmp);
        return false;
    }
    c->dirty = false;
    return true;
}

/* ---- one file ------------------------------------------------------------------------------------ */

/* Hash an open regular file; fstat before and after must agree (else a change while reading). */
static int hash_fd(int fd, const char *path, char hex[NSID_SHA256_HEX], int64_t *bytes, struct nsid_err *err)
{
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = NSID_ALLOC(CHUNK, err);
    if (!buf) return NSID_ENOMEM;
    struct nsid_sha256 h;
    nsid_sha256_init(&h);
    int64_t total = 0;
    int rc = 0;
    for (;;) {
        ssize_t got = read(fd, buf, CHUNK);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            rc = nsid_err_set(err, NSID_EIO, path, 0, NULL, "read failed: %s", strerror(errno));
            break;
        }
        if (got == 0) break;
        nsid_sha256_update(&h, buf, (size_t)got);
        total += got;
    }
    nsid_alloc_free(buf);
    if (rc < 0) return rc;
    unsigned char d[NSID_SHA256_BYTES];
    nsid_sha256_final(&h, d);
    nsid_sha256_to_hex(hex, d);
    if (bytes) *bytes = total;
    return 0;
}

/* Open path for reading without blocking on a FIFO; refuse anything but a regular file. */
static int open_regular(const char *path, struct stat *sb, struct nsid_err *err)
{
    int fd = nsid_infile_open(path, NULL, err);
    if (fd >= 0 && fstat(fd, sb) != 0) {
        close(fd);
        return nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot stat: %s", strerror(errno));
    }
    return fd;
}

int nsid_scanid_file_sha256(const char *path, char hex[NSID_SHA256_HEX], int64_t *bytes, struct nsid_err *err)
{
    struct stat sb;
    int fd = open_regular(path, &sb, err);
    if (fd < 0) return fd;
    int rc = hash_fd(fd, path, hex, bytes, err);
    close(fd);
    return rc;
}

static bool same_stat(const struct nsid_scanid_entry *e, const struct stat *sb)
{
    return e->size == (int64_t)sb->st_size && e->mtime_s == (int64_t)sb->st_mtim.tv_sec &&
           e->mtime_ns == (int64_t)sb->st_mtim.tv_nsec;
}

/* sha256 of the regular file abs (absolute path; sb its stat), from the cache when it matches. */
static int cached_file(struct nsid_scanid_cache *c, const char *abs, const struct stat *sb, char hex[NSID_SHA256_HEX],
                       struct nsid_err *err)
{
    struct nsid_scanid_entry *e = cache_find(c, abs);
    if (e && same_stat(e, sb)) {
        e->used = true;
        memcpy(hex, e->sha, NSID_SHA256_HEX);
        return 0;
    }
    struct stat fsb;
    int fd = open_regular(abs, &fsb, err);
    if (fd < 0) return fd;
    int rc = hash_fd(fd, abs, hex, NULL, err);
    struct stat after;
    bool stable = rc == 0 && fstat(fd, &after) == 0 && after.st_size == fsb.st_size &&
                  after.st_mtim.tv_sec == fsb.st_mtim.tv_sec && after.st_mtim.tv_nsec == fsb.st_mtim.tv_nsec;
    close(fd);
    if (rc < 0) return rc;
    if (stable && c) {
        cache_put(c, abs, (int64_t)fsb.st_size, (int64_t)fsb.st_mtim.tv_sec, (int64_t)fsb.st_mtim.tv_nsec, hex, true);
        c->dirty = true;
    }
    return 0;
}

/* ---- a tree ------------------------------------------------------------------------------------- */

struct tfile {
    char *rel;       /* path relative to the tree */
    struct stat sb;
};

struct walk {
    const char *root;    /* absolute */
    struct tfile *f;
    int n, cap;
    struct nsid_err *err;
};

static int walk_add(struct walk *w, const char *rel, const struct stat *sb)
{
    if (NSID_GROW(w->f, w->n, w->cap, 1024, w->err) < 0) return NSID_ENOMEM;
    char *r = dup_str(rel);
    if (!r) return nsid_err_set(w->err, NSID_ENOMEM, w->root, 0, NULL, "out of memory");
    w->f[w->n].rel = r;
    w->f[w->n].sb = *sb;
    w->n++;
    return 0;
}

/* Every counted entry under root/rel ("" the root). */
static int walk_dir(struct walk *w, const char *rel, int depth)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s%s%s", w->root, rel[0] ? "/" : "", rel) >= (int)sizeof dir)
        return nsid_err_set(w->err, NSID_EINVAL, w->root, 0, rel, "path too long");
    if (depth > TREE_MAX_DEPTH)
        return nsid_err_set(w->err, NSID_EFORMAT, dir, 0, NULL, "folders nested deeper than %d (a symbolic link cycle?)",
                            TREE_MAX_DEPTH);
    DIR *d = opendir(dir);
    if (!d) return nsid_err_set(w->err, NSID_EIO, dir, 0, NULL, "cannot list the folder: %s", strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue; /* ".", "..", hidden files and folders */
        char sub[PATH_MAX], full[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >= (int)sizeof sub ||
            snprintf(full, sizeof full, "%s/%s", w->root, sub) >= (int)sizeof full) {
            rc = nsid_err_set(w->err, NSID_EINVAL, dir, 0, de->d_name, "path too long");
            break;
        }
        if (strchr(de->d_name, '\n')) {
            rc = nsid_err_set(w->err, NSID_EFORMAT, full, 0, NULL, "a file name with a newline");
            break;
        }
        struct stat sb;
        if (stat(full, &sb) != 0) {
            rc = nsid_err_set(w->err, NSID_EIO, full, 0, NULL, "cannot stat: %s (a dangling symbolic link?)",
                              strerror(errno));
            break;
        }
        if (S_ISDIR(sb.st_mode)) rc = walk_dir(w, sub, depth + 1);
        else if (S_ISREG(sb.st_mode)) rc = walk_add(w, sub, &sb);
        else
            rc = nsid_err_set(w->err, NSID_EFORMAT, full, 0, NULL,
                              "%s in a scan folder: a file-tree scan holds only regular files and folders",
                              kind_of_mode(sb.st_mode));
    }
    closedir(d);
    return rc;
}

static int tfile_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tfile *)a)->rel, ((const struct tfile *)b)->rel);
}

static int tree_id(const char *root, struct nsid_scanid_cache *c, char hex[NSID_SHA256_HEX], int64_t *bytes,
                   struct nsid_err *err)
{
    struct walk w = {.root = root, .err = err};
    int rc = walk_dir(&w, "", 0);
    if (rc == 0 && w.n) qsort(w.f, (size_t)w.n, sizeof *w.f, tfile_cmp);
    struct nsid_sha256 h;
    nsid_sha256_init(&h);
    nsid_sha256_update(&h, TREE_HEADER, strlen(TREE_HEADER));
    int64_t total = 0;
    for (int i = 0; rc == 0 && i < w.n; i++) {
        char full[PATH_MAX], fh[NSID_SHA256_HEX], head[NSID_SHA256_HEX + 32];
        if (snprintf(full, sizeof full, "%s/%s", root, w.f[i].rel) >= (int)sizeof full) {
            rc = nsid_err_set(err, NSID_EINVAL, root, 0, w.f[i].rel, "path too long");
            break;
        }
        rc = cached_file(c, full, &w.f[i].sb, fh, err);
        if (rc < 0) break;
        int k = snprintf(head, sizeof head, "%s %lld ", fh, (long long)w.f[i].sb.st_size);
        nsid_sha256_update(&h, head, (size_t)k);
        nsid_sha256_update(&h, w.f[i].rel, strlen(w.f[i].rel));
        nsid_sha256_update(&h, "\n", 1);
        total += (int64_t)w.f[i].sb.st_size;
    }
    for (int i = 0; i < w.n; i++) nsid_alloc_free(w.f[i].rel);
    nsid_alloc_free(w.f);
    if (rc < 0) return rc;
    unsigned char d[NSID_SHA256_BYTES];
    nsid_sha256_final(&h, d);
    nsid_sha256_to_hex(hex, d);
    if (bytes) *bytes = total;
    return 0;
}

int nsid_scanid_id(const char *path, struct nsid_scanid_cache *cache, char hex[NSID_SHA256_HEX], int64_t *bytes,
                 struct nsid_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return nsid_err_set(err, errno == ENOENT || errno == ENOTDIR ? NSID_ENOTFOUND : NSID_EIO, path, 0, NULL,
                            "no such file or folder: %s", strerror(errno));
    if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "%s: a scan is an HDF5 file or a file-tree folder",
                            kind_of_mode(sb.st_mode));
    char abs[PATH_MAX];
    if (!realpath(path, abs))
        return nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot resolve the path: %s", strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        int rc = tree_id(abs, cache, hex, bytes, err);
        if (rc < 0) nsid_err_context(err, path, 0, NULL, NULL);
        return rc;
    }
    int rc = cached_file(cache, abs, &sb, hex, err);
    if (rc == 0 && bytes) *bytes = (int64_t)sb.st_size;
    if (rc < 0) snprintf(err->file, sizeof err->file, "%s", path); /* the name the caller knows */
    return rc;
}

/* ---- probe ------------------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* An HDF5 superblock signature at 0, 512, 1024, 2048, ... (the places HDF5 looks). */
static bool h5_signature(int fd, int64_t size)
{
    static const unsigned char SIG[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (int64_t off = 0; off + 8 <= size; off = off ? 2 * off : 512) {
        unsigned char b[8];
        if (pread(fd, b, 8, (off_t)off) != 8) return false;
        if (memcmp(b, SIG, 8) == 0) return true;
    }
    return false;
}

int nsid_scanid_probe(const char *path, enum nsid_scan_kind *kind, struct nsid_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return nsid_err_set(err, errno == ENOENT || errno == ENOTDIR ? NSID_ENOTFOUND : NSID_EIO, path, 0, NULL,
                            "no such file or folder");
    if (S_ISDIR(sb.st_mode)) {
        char data[PATH_MAX];
        struct stat ds;
        if (snprintf(data, sizeof data, "%s/data", path) >= (int)sizeof data || stat(data, &ds) != 0 ||
            !S_ISDIR(ds.st_mode))
            return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                                "not a scan: a folder without data/ (a file-tree scan holds data/ and meta/)");
        *kind = NSID_SCAN_KIND_TREE;
        return 0;
    }
    if (!S_ISREG(sb.st_mode))
        return nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "not a scan: %s (a scan is an HDF5 file or a folder)",
                            kind_of_mode(sb.st_mode));
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return nsid_err_set(err, NSID_EIO, path, 0, NULL, "cannot open: %s", strerror(errno));
    int rc = 0;
    if (ends_with(path, ".zip")) {
        unsigned char b[4];
        if (pread(fd, b, 4, 0) != 4 || memcmp(b, "PK\3\4", 4) != 0)
            rc = nsid_err_set(err, NSID_EFORMAT, path, 0, NULL, "not a scan: named .zip but no zip signature");
        else *kind = NSID_SCAN_KIND_ZIP;
    } else if (h5_signature(fd, (int64_t)sb.st_size)) {
        *kind = NSID_SCAN_KIND_H5;
    } else {
        rc = nsid_err_set(err, NSID_EFORMAT, path, 0, NULL,
                          "not a scan: no HDF5 signature in its %lld bytes (a text file, truncated or another "
                          "format?), and not a folder",
                          (long long)sb.st_size);
    }
    close(fd);
    return rc;
}
