/* test_grow.c - NSID_GROW (base/alloc.h) and its arena twin NSID_SPEC_ARENA_GROW (exp/spec.h). */
#include <limits.h>
#include <string.h>

#include "base/alloc.h"
#include "check.h"
#include "exp/spec.h"

struct item {
    int v;
    char pad[20];
};

int main(void)
{
    struct nsid_err err = {0};
    struct item *a = NULL;
    int n = 0, cap = 0, caps[4] = {0}, k = 0;
    for (int i = 0; i < 100; i++) {
        int before = cap;
        CHECK(NSID_GROW(a, n, cap, 4, &err) == 0, "grow %d: %s", i, err.msg);
        if (cap != before && k < 4) caps[k++] = cap;
        CHECK(n < cap, "room for item %d", i);
        a[n++].v = i;
    }
    CHECK(caps[0] == 4 && caps[1] == 8 && caps[2] == 16 && caps[3] == 32 && cap == 128,
          "capacity starts at first and doubles (%d %d %d %d ... %d)", caps[0], caps[1], caps[2], caps[3], cap);
    bool kept = true, zero = true;
    for (int i = 0; i < n; i++) kept = kept && a[i].v == i;
    for (int i = n; i < cap; i++) zero = zero && a[i].v == 0;
    CHECK(kept && zero, "items kept across every move, the new tail zeroed");
    nsid_alloc_free(a);

    /* refused: a capacity that would overflow; the array is left as it was */
    struct item *b = NULL;
    int bn = INT_MAX / 2 + 1, bcap = INT_MAX / 2 + 1;
    CHECK(NSID_GROW(b, bn, bcap, 4, &err) == NSID_ENOMEM && b == NULL && bcap == INT_MAX / 2 + 1,
          "an overflowing capacity is refused: %s", err.msg);

    struct nsid_spec_arena pool = {0};
    struct nsid_err e2 = {0};
    int *c = NULL, cn = 0, ccap = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK(NSID_SPEC_ARENA_GROW(&pool, c, cn, ccap, 8, &e2) == 0, "arena grow %d: %s", i, e2.msg);
        c[cn++] = i * 3;
    }
    bool ok = ccap == 1024;
    for (int i = 0; i < cn; i++) ok = ok && c[i] == i * 3;
    CHECK(ok, "arena array: 1000 items kept, capacity 8 doubled to %d", ccap);
    nsid_spec_arena_free(&pool);
    return check_summary("grow");
}
