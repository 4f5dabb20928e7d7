/*
 * test_scanid.c - a scan's identity (data/scanid.h): an HDF5 file's is the sha256 of its bytes
 * (what the store hashed before, so existing run ids stay); a tree's is the documented listing
 * hash, equal for a copy elsewhere, blind to hidden files, changed by any counted byte, name,
 * added or removed file; FIFOs are refused without blocking; the stat cache answers without
 * reading (proved by a change that keeps size and mtime) and misses on any stat change; the
 * probe tells HDF5, tree and zip from a text file, an empty folder, a FIFO and a missing path.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/sha256.h"
#include "check.h"
#include "data/scanid.h"
#include "exp/store.h"

static char tmp[512];

static const char *tpath(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void mkdirs(const char *path)
{
    char b[1024];
    snprintf(b, sizeof b, "%s", path);
    for (char *p = b + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(b, 0755);
            *p = '/';
        }
    mkdir(b, 0755);
}

/* A small tree: data/images/{0,1}.npy, data/responses/0.npy, meta/trials/tiers.npy, config.json. */
static void make_tree(const char *root)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/data/images", root);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/data/responses", root);
    mkdirs(p);
    snprintf(p, sizeof p, "%s/meta/trials", root);
    mkdirs(p);
    const char *files[][2] = {{"data/images/0.npy", "image zero"}, {"data/images/1.npy", "image one"},
                              {"data/responses/0.npy", "responses"}, {"meta/trials/tiers.npy", "tiers"},
                              {"config.json", "{}"}};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", root, files[i][0]);
        put(p, files[i][1]);
    }
}

static int id_of(const char *path, struct nsid_scanid_cache *c, char id[NSID_SHA256_HEX])
{
    struct nsid_err err = {0};
    int rc = nsid_scanid_id(path, c, id, NULL, &err);
    if (rc < 0) fprintf(stderr, "  (%s: %s)\n", path, err.msg);
    return rc;
}

static void test_file(void)
{
    put(tpath("scan.h5"), "\211HDF\r\n\032\nbytes of a scan");
    char a[NSID_SHA256_HEX], b[NSID_SHA256_HEX];
    int64_t bytes = 0;
    struct nsid_err err = {0};
    CHECK(nsid_scanid_id(tpath("scan.h5"), NULL, a, &bytes, &err) == 0, "a file's identity: %s", err.msg);
    CHECK(nsid_store_hash_file(tpath("scan.h5"), b, NULL, &err) == 0 && strcmp(a, b) == 0,
          "a file's identity is the sha256 of its bytes, as the store hashed it before");
    CHECK(bytes == 23, "bytes of a file (%lld)", (long long)bytes);
    CHECK(nsid_scanid_id(tpath("nope.h5"), NULL, a, NULL, &err) == NSID_ENOTFOUND && strstr(err.file, "nope.h5"),
          "a missing scan: NSID_ENOTFOUND naming it");
}

static void test_tree(void)
{
    make_tree(tpath("t1"));
    char id[NSID_SHA256_HEX], id2[NSID_SHA256_HEX];
    int64_t bytes = 0;
    struct nsid_err err = {0};
    CHECK(nsid_scanid_id(tpath("t1"), NULL, id, &bytes, &err) == 0, "a tree's identity: %s", err.msg);
    CHECK(bytes == 10 + 9 + 9 + 5 + 2, "a tree's bytes are its files' (%lld)", (long long)bytes);

    /* the documented text: header, then "<sha> <size> <relative path>" sorted bytewise */
    const char *rel[] = {"config.json", "data/images/0.npy", "data/images/1.npy", "data/responses/0.npy",
                         "meta/trials/tiers.npy"};
    const char *txt[] = {"{}", "image zero", "image one", "responses", "tiers"};
    char doc[2048] = "nsid-scan-tree 1\n";
    for (int i = 0; i < 5; i++) {
        char h[NSID_SHA256_HEX];
        nsid_sha256_hex(h, txt[i], strlen(txt[i]));
        snprintf(doc + strlen(doc), sizeof doc - strlen(doc), "%s %zu %s\n", h, strlen(txt[i]), rel[i]);
    }
    char want[NSID_SHA256_HEX];
    nsid_sha256_hex(want, doc, strlen(doc));
    CHECK(strcmp(id, want) == 0, "a tree's identity is the sha256 of the documented listing");

    /* a copy elsewhere (created in another order), with a trailing slash: the same identity */
    mkdirs(tpath("elsewhere/deep"));
    char p[1100];
    snprintf(p, sizeof p, "%s/meta/trials", tpath("elsewhere/deep/t1"));
    mkdirs(p);
    for (int i = 4; i >= 0; i--) {
        char d[1100];
        snprintf(d, sizeof d, "%s/%s", tpath("elsewhere/deep/t1"), rel[i]);
        char *slash = strrchr(d, '/');
        *slash = '\0';
        mkdirs(d);
        *slash = '/';
        put(d, txt[i]);
    }
    CHECK(id_of(tpath("elsewhere/deep/t1/"), NULL, id2) == 0 && strcmp(id, id2) == 0,
          "a copy of the tree elsewhere has the same identity");

    /* hidden files and folders do not count */
    put(tpath("t1/.DS_Store"), "finder");
    mkdirs(tpath("t1/.git/objects"));
    put(tpath("t1/.git/objects/x"), "git");
    put(tpath("t1/data/images/.0.npy.swp"), "editor");
    CHECK(id_of(tpath("t1"), NULL, id2) == 0 && strcmp(id, id2) == 0, "hidden files and folders do not count");

    /* every counted change changes it */
    struct { const char *what; const char *path, *text; bool remove; } changes[] = {
        {"one byte of a file", "t1/data/images/1.npy", "image onE", false},
        {"an added file", "t1/data/images/2.npy", "image two", false},
        {"an added file in meta", "t1/meta/trials/frame_image_id.npy", "ids", false},
        {"a removed file", "t1/config.json", NULL, true},
    };
    char prev[NSID_SHA256_HEX];
    memcpy(prev, id, sizeof prev);
    for (size_t i = 0; i < sizeof changes / sizeof *changes; i++) {
        if (changes[i].remove) remove(tpath(changes[i].path));
        else put(tpath(changes[i].path), changes[i].text);
        CHECK(id_of(tpath("t1"), NULL, id2) == 0 && strcmp(prev, id2) != 0, "%s changes the identity",
              changes[i].what);
        memcpy(prev, id2, sizeof prev);
    }
    /* a rename with the same content changes it */
    rename(tpath("t1/data/images/2.npy"), tpath("t1/data/images/3.npy"));
    CHECK(id_of(tpath("t1"), NULL, id2) == 0 && strcmp(prev, id2) != 0, "a renamed file changes the identity");

    /* an empty folder still has an identity (the probe, not the hash, says it is no scan) */
    mkdirs(tpath("empty"));
    CHECK(id_of(tpath("empty"), NULL, id2) == 0, "an empty folder has an identity");
}

static void test_fifo(void)
{
    make_tree(tpath("t2"));
    CHECK(mkfifo(tpath("t2/meta/pipe"), 0644) == 0, "mkfifo");
    char id[NSID_SHA256_HEX];
    struct nsid_err err = {0};
    int rc = nsid_scanid_id(tpath("t2"), NULL, id, NULL, &err); /* would block forever if it opened the FIFO */
    CHECK(rc == NSID_EFORMAT && strstr(err.file, "t2/meta/pipe") && strstr(err.msg, "FIFO"),
          "a FIFO in a tree is refused, naming it: %s: %s", err.file, err.msg);
    CHECK(mkfifo(tpath("fifo.h5"), 0644) == 0, "mkfifo");
    nsid_err_clear(&err);
    rc = nsid_scanid_id(tpath("fifo.h5"), NULL, id, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "FIFO"), "a FIFO as the scan is refused: %s", err.msg);
    nsid_err_clear(&err);
    rc = nsid_scanid_file_sha256(tpath("fifo.h5"), id, NULL, &err);
    CHECK(rc == NSID_EFORMAT, "nsid_scanid_file_sha256 refuses a FIFO");
    enum nsid_scan_kind kind;
    nsid_err_clear(&err);
    rc = nsid_scanid_probe(tpath("fifo.h5"), &kind, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "FIFO"), "the probe refuses a FIFO: %s", err.msg);
    remove(tpath("t2/meta/pipe"));
    symlink("no-such-target", tpath("t2/meta/dangling"));
    nsid_err_clear(&err);
    rc = nsid_scanid_id(tpath("t2"), NULL, id, NULL, &err);
    CHECK(rc < 0 && strstr(err.file, "dangling"), "a dangling link in a tree is an error naming it");
    remove(tpath("t2/meta/dangling"));
    symlink("../data", tpath("t2/meta/loop"));
    char plain[NSID_SHA256_HEX];
    CHECK(id_of(tpath("t2"), NULL, plain) == 0, "a link to a folder is followed");
    remove(tpath("t2/meta/loop"));
    symlink("..", tpath("t2/meta/cycle"));
    nsid_err_clear(&err);
    rc = nsid_scanid_id(tpath("t2"), NULL, id, NULL, &err);
    CHECK(rc == NSID_EFORMAT && strstr(err.msg, "deeper"), "a link cycle ends with an error: %s", err.msg);
    remove(tpath("t2/meta/cycle"));
}

/* Replace a file's bytes keeping its size and mtime (what only a read can notice). */
static void sneaky_write(const char *path, const char *text)
{
    struct stat sb;
    stat(path, &sb);
    put(path, text);
    struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
    utimensat(AT_FDCWD, path, ts, 0);
}

static void test_cache(void)
{
    make_tree(tpath("t3"));
    put(tpath("s3.h5"), "\211HDF\r\n\032\nthe scan");
    struct nsid_scanid_cache c;
    nsid_scanid_cache_init(&c);
    char t0[NSID_SHA256_HEX], f0[NSID_SHA256_HEX], x[NSID_SHA256_HEX];
    CHECK(id_of(tpath("t3"), &c, t0) == 0 && id_of(tpath("s3.h5"), &c, f0) == 0, "hash with a cache");
    CHECK(c.n == 6, "one entry per file (%d)", c.n);
    CHECK(nsid_scanid_cache_save(&c, tpath("hashes")), "save the cache");
    nsid_scanid_cache_free(&c);

    /* a change that keeps size and mtime: the cache answers without reading */
    sneaky_write(tpath("t3/data/images/0.npy"), "image zerO");
    sneaky_write(tpath("s3.h5"), "\211HDF\r\n\032\nthe scaN");
    nsid_scanid_cache_init(&c);
    nsid_scanid_cache_load(&c, tpath("hashes"));
    CHECK(c.n == 6, "the cache reads back (%d entries)", c.n);
    CHECK(id_of(tpath("t3"), &c, x) == 0 && strcmp(x, t0) == 0, "a tree whose stats match is not read again");
    CHECK(id_of(tpath("s3.h5"), &c, x) == 0 && strcmp(x, f0) == 0, "a file whose stat matches is not read again");
    CHECK(id_of(tpath("t3"), NULL, x) == 0 && strcmp(x, t0) != 0, "without the cache the change is seen");

    /* any stat change is a miss */
    struct stat sb;
    stat(tpath("t3/data/images/0.npy"), &sb);
    struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
    ts[1].tv_nsec = (ts[1].tv_nsec + 1) % 1000000000L;
    utimensat(AT_FDCWD, tpath("t3/data/images/0.npy"), ts, 0);
    char t1[NSID_SHA256_HEX];
    CHECK(id_of(tpath("t3"), &c, t1) == 0 && strcmp(t1, t0) != 0, "one nanosecond of mtime is a miss");
    CHECK(id_of(tpath("t3"), NULL, x) == 0 && strcmp(x, t1) == 0, "and the new identity is the true one");
    CHECK(c.dirty, "a miss marks the cache changed");

    /* stale entries are dropped when saving */
    remove(tpath("t3/config.json"));
    nsid_scanid_cache_free(&c);
    nsid_scanid_cache_init(&c);
    nsid_scanid_cache_load(&c, tpath("hashes"));
    c.dirty = true;
    CHECK(nsid_scanid_cache_save(&c, tpath("hashes")), "save again");
    nsid_scanid_cache_free(&c);
    nsid_scanid_cache_init(&c);
    nsid_scanid_cache_load(&c, tpath("hashes"));
    CHECK(c.n == 4, "entries of removed or changed files are dropped (%d left)", c.n);
    nsid_scanid_cache_free(&c);

    /* a damaged cache file: bad lines are skipped */
    put(tpath("hashes"), "garbage\nzz 1 2 3 /x\n0000000000000000000000000000000000000000000000000000000000000000 1 2 3 rel\n");
    nsid_scanid_cache_init(&c);
    nsid_scanid_cache_load(&c, tpath("hashes"));
    CHECK(c.n == 0, "malformed cache lines are skipped (%d)", c.n);
    nsid_scanid_cache_free(&c);
}

static void test_probe(void)
{
    enum nsid_scan_kind kind = 0;
    struct nsid_err err = {0};
    put(tpath("p.h5"), "\211HDF\r\n\032\nx");
    CHECK(nsid_scanid_probe(tpath("p.h5"), &kind, &err) == 0 && kind == NSID_SCAN_KIND_H5, "an HDF5 signature");
    FILE *f = fopen(tpath("userblock.h5"), "wb");
    for (int i = 0; f && i < 512; i++) fputc(' ', f);
    if (f) fputs("\211HDF\r\n\032\nafter a user block", f);
    if (f) fclose(f);
    CHECK(nsid_scanid_probe(tpath("userblock.h5"), &kind, &err) == 0 && kind == NSID_SCAN_KIND_H5,
          "an HDF5 signature after a 512-byte user block");
    put(tpath("z.zip"), "PK\3\4rest");
    CHECK(nsid_scanid_probe(tpath("z.zip"), &kind, &err) == 0 && kind == NSID_SCAN_KIND_ZIP, "a zip");
    make_tree(tpath("t4"));
    CHECK(nsid_scanid_probe(tpath("t4"), &kind, &err) == 0 && kind == NSID_SCAN_KIND_TREE, "a tree");
    struct { const char *what, *path, *want; int code; } bad[] = {
        {"a text file", "notes.txt", "no HDF5 signature", NSID_EFORMAT},
        {"an empty file", "empty.h5", "no HDF5 signature", NSID_EFORMAT},
        {"a text file named .zip", "fake.zip", "zip", NSID_EFORMAT},
        {"an empty folder", "emptydir", "without data/", NSID_EFORMAT},
        {"a folder of other things", "t4/meta", "without data/", NSID_EFORMAT},
        {"a missing path", "missing.h5", "no such", NSID_ENOTFOUND},
    };
    put(tpath("notes.txt"), "my notes about the scans\n");
    put(tpath("empty.h5"), "");
    put(tpath("fake.zip"), "not a zip");
    mkdirs(tpath("emptydir"));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        nsid_err_clear(&err);
        int rc = nsid_scanid_probe(tpath(bad[i].path), &kind, &err);
        CHECK(rc == bad[i].code && strstr(err.msg, bad[i].want) && strstr(err.file, bad[i].path),
              "probe of %s: %d %s: %s", bad[i].what, rc, err.file, err.msg);
    }
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "%s/nsid_scanid_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) return 1;
    test_file();
    test_tree();
    test_fifo();
    test_cache();
    test_probe();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (check_failed_ == 0 && system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return check_summary("scanid");
}
