/*
 * scanid.h - a scan's identity: the content hash of a scan path, for both layouts, with a
 * stat-only cache.
 *
 *     struct nsid_scanid_cache c;
 *     nsid_scanid_cache_init(&c);
 *     nsid_scanid_cache_load(&c, "results/.hashes");        // best effort: a missing file is empty
 *     char id[NSID_SHA256_HEX];
 *     if (nsid_scanid_id("data/static20457-5-9-preproc0", &c, id, NULL, err) < 0) ...
 *     nsid_scanid_cache_save(&c, "results/.hashes");        // best effort
 *     nsid_scanid_cache_free(&c);
 *
 * The identity of a regular file (an HDF5 scan, a .zip) is the sha256 of its bytes. The
 * identity of a folder (a file-tree scan) is the sha256 of the text
 *
 *     nsid-scan-tree 1\n
 *     <sha256 of the file> <size in bytes> <path relative to the folder>\n     one line per file
 *
 * with one line per regular file under the folder (at any depth), sorted bytewise by the
 * relative path ('/'-separated). Names beginning with '.' (hidden files and folders, such as
 * .DS_Store, .git, or the .<name>.tmp.XXXXXX folder of an unfinished write) are skipped.
 * Symbolic links are followed (the link counts as the file or folder it points to). Anything
 * else - a FIFO, socket or device - is an error naming it, found by stat alone, never opened.
 * So the same tree copied elsewhere has the same identity; renaming, adding, removing or
 * changing any counted file changes it.
 *
 * The cache maps an absolute file path, its size and its mtime (seconds and nanoseconds) to
 * the file's sha256: a file whose stat matches is not read again, so re-hashing a tree costs a
 * stat per file. Any change of size or mtime is a miss. Saving keeps the entries used since
 * loading, and older entries whose file still has the cached size and mtime. The file format,
 * one entry per line: "<sha256> <size> <mtime s> <mtime ns> <absolute path>".
 */
#ifndef NSID_SCANID_H
#define NSID_SCANID_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/sha256.h"

enum nsid_scan_kind {
    NSID_SCAN_KIND_H5 = 1,   /* a regular file with an HDF5 signature */
    NSID_SCAN_KIND_TREE = 2, /* a folder with a data/ folder */
    NSID_SCAN_KIND_ZIP = 3,  /* a regular file named *.zip with a zip signature (a zipped tree) */
};

struct nsid_scanid_entry {
    char *path;              /* absolute */
    int64_t size, mtime_s, mtime_ns;
    char sha[NSID_SHA256_HEX];
    bool used;               /* looked up or added since loading */
};

struct nsid_scanid_cache {
    struct nsid_scanid_entry *e;
    int n, cap;
    int *slot;               /* open addressing: path -> index into e, -1 empty; n_slot a power of 2 */
    int n_slot;
    bool dirty;              /* an entry was added or replaced */
    bool oom;                /* an allocation failed: the cache stopped growing (hashing still works) */
};

void nsid_scanid_cache_init(struct nsid_scanid_cache *c);
/* Read entries from file (malformed lines are skipped; a missing file reads as empty). */
void nsid_scanid_cache_load(struct nsid_scanid_cache *c, const char *file);
/* Write the cache to file (atomically, only if something changed); false if it could not. */
bool nsid_scanid_cache_save(struct nsid_scanid_cache *c, const char *file);
void nsid_scanid_cache_free(struct nsid_scanid_cache *c);

/*
 * The identity of the scan at path (see top) into hex; *bytes (may be NULL) gets the bytes
 * counted (a tree: the sum of its files). cache may be NULL. NSID_ENOTFOUND if path does not
 * exist, NSID_EFORMAT for a path that is neither a regular file nor a folder, or a tree that
 * holds such an entry or a file name with a newline, NSID_EIO if a file cannot be read.
 */
int nsid_scanid_id(const char *path, struct nsid_scanid_cache *cache, char hex[NSID_SHA256_HEX], int64_t *bytes,
                 struct nsid_err *err);

/* sha256 of a regular file's bytes (refused without opening if it is not one). */
int nsid_scanid_file_sha256(const char *path, char hex[NSID_SHA256_HEX], int64_t *bytes, struct nsid_err *err);

/*
 * Is path a scan? Cheap: a stat, and for a file its signature (HDF5: at byte 0, 512, 1024,
 * ...; zip: "PK\3\4"); a folder must hold data/. *kind gets the layout. NSID_ENOTFOUND if
 * path does not exist, NSID_EFORMAT with the reason if it is no scan (a text file, an empty
 * folder, a FIFO).
 */
int nsid_scanid_probe(const char *path, enum nsid_scan_kind *kind, struct nsid_err *err);

#endif
