/*
 * train_check.h - helpers of the training tests: run folders, the epoch log, HDF5 tensor
 * comparison and SQLite lookups.
 */
#ifndef NSID_TRAIN_CHECK_H
#define NSID_TRAIN_CHECK_H

#include <hdf5.h>
#include <hdf5_hl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TC_MAX_EPOCHS 512

/* One line of train.log. */
struct tc_epoch {
    long long epoch, round, best_epoch, bad, plateau_bad, decays;
    double lr, next_lr, loss, val, best;
    char action[48];
};

/* Parse the epoch lines of a train.log; returns how many (epoch k at index k when complete). */
static inline int tc_read_log(const char *path, struct tc_epoch *e, int max)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < max) {
        struct tc_epoch x;
        memset(&x, 0, sizeof x);
        if (sscanf(line,
                   "epoch=%lld round=%lld lr=%lf next_lr=%lf loss=%lf val_corr=%lf best=%lf best_epoch=%lld "
                   "bad=%lld plateau_bad=%lld decays=%lld action=%47s",
                   &x.epoch, &x.round, &x.lr, &x.next_lr, &x.loss, &x.val, &x.best, &x.best_epoch, &x.bad,
                   &x.plateau_bad, &x.decays, x.action) == 12)
            e[n++] = x;
    }
    fclose(f);
    return n;
}

struct tc_cmp {
    hid_t other;
    int datasets, differ;
    char first[256];
};

/* H5Ovisit callback: compare one dataset of the visited file with the same path in other. */
static inline herr_t tc_visit(hid_t loc, const char *name, const H5O_info_t *info, void *op)
{
    struct tc_cmp *c = op;
    if (info->type != H5O_TYPE_DATASET) return 0;
    c->datasets++;
    hid_t a = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t b = H5Lexists(c->other, name, H5P_DEFAULT) > 0 ? H5Dopen2(c->other, name, H5P_DEFAULT) : -1;
    bool same = false;
    if (a >= 0 && b >= 0) {
        hid_t ta = H5Dget_type(a), tb = H5Dget_type(b);
        hid_t sa = H5Dget_space(a), sb = H5Dget_space(b);
        hssize_t na = H5Sget_simple_extent_npoints(sa), nb = H5Sget_simple_extent_npoints(sb);
        size_t sz = H5Tget_size(ta);
        if (H5Tequal(ta, tb) > 0 && na == nb) {
            char *x = malloc((size_t)na * sz + 1), *y = malloc((size_t)nb * sz + 1);
            hid_t nt = H5Tget_native_type(ta, H5T_DIR_DEFAULT);
            if (H5Dread(a, nt, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0 &&
                H5Dread(b, nt, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0)
                same = memcmp(x, y, (size_t)na * sz) == 0;
            H5Tclose(nt);
            free(x);
            free(y);
        }
        H5Tclose(ta);
        H5Tclose(tb);
        H5Sclose(sa);
        H5Sclose(sb);
    }
    if (a >= 0) H5Dclose(a);
    if (b >= 0) H5Dclose(b);
    if (!same) {
        if (!c->differ) snprintf(c->first, sizeof c->first, "%s", name);
        c->differ++;
    }
    return 0;
}

/* Every dataset of file a exists in b with bit-identical content (and the counts agree). */
static inline bool tc_h5_same(const char *pa, const char *pb, char *why, size_t n)
{
    hid_t a = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT), b = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (a < 0 || b < 0) {
        snprintf(why, n, "cannot open %.400s", a < 0 ? pa : pb);
        if (a >= 0) H5Fclose(a);
        if (b >= 0) H5Fclose(b);
        return false;
    }
    struct tc_cmp ab = {.other = b}, ba = {.other = a};
    H5Ovisit(a, H5_INDEX_NAME, H5_ITER_NATIVE, tc_visit, &ab);
    H5Ovisit(b, H5_INDEX_NAME, H5_ITER_NATIVE, tc_visit, &ba);
    H5Fclose(a);
    H5Fclose(b);
    snprintf(why, n, "%d/%d datasets differ, first %s", ab.differ + ba.differ, ab.datasets + ba.datasets,
             ab.differ ? ab.first : ba.first);
    return ab.datasets > 0 && ab.differ == 0 && ba.differ == 0;
}

/* n floats of dataset name of an HDF5 file into out (malloc'ed); NULL on failure. */
static inline float *tc_h5_floats(const char *path, const char *name, size_t *n)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    float *out = NULL;
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        *n = (size_t)H5Sget_simple_extent_npoints(s);
        out = malloc(*n * sizeof *out + 1);
        if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
            free(out);
            out = NULL;
        }
        H5Sclose(s);
        H5Dclose(d);
    }
    H5Fclose(f);
    return out;
}

/* The first column of the first row of a query (as text into buf); false if no row. */
static inline bool tc_sql(const char *db, const char *sql, char *buf, size_t n)
{
    sqlite3 *h = NULL;
    buf[0] = '\0';
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return false;
    }
    sqlite3_stmt *st = NULL;
    bool row = false;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(buf, n, "%s", t ? (const char *)t : "");
        row = true;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return row;
}

#endif
