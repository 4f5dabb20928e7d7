/*
 * test_keys.c - the one key-table setter (base/keys.h) on a table of its own, and the
 * simulator's configuration following the same rules as the run configuration: each kind's
 * text rule, bounds (closed and open), int and int64 fields, the unsigned seed, strings that
 * do not fit, defaults, the bounds check of a hand-filled struct, and the messages.
 */
#include <stdint.h>
#include <string.h>

#include "base/keys.h"
#include "check.h"
#include "data/simulate.h"

struct cfg {
    int small;
    int64_t big;
    uint64_t seed;
    double rate;
    bool on;
    int kind;
    char name[8];
};

static const char *const KINDS[] = {"a", "bee", "sea", NULL};

#define F(f) offsetof(struct cfg, f), .size = sizeof(((struct cfg *)0)->f)
static const struct nsid_key T[] = {
    {.name = "small", .type = NSID_KEY_INT, .imin = -3, .imax = 9, .idef = 4, .offset = F(small)},
    {.name = "big", .type = NSID_KEY_INT, .imin = 0, .imax = INT64_MAX, .idef = 5000000000, .offset = F(big)},
    {.name = "seed", .type = NSID_KEY_UINT, .idef = 7, .offset = F(seed)},
    {.name = "rate", .type = NSID_KEY_DOUBLE, .flags = NSID_KEY_LO_OPEN, .dmin = 0, .dmax = 1, .ddef = 0.5,
     .offset = F(rate)},
    {.name = "on", .type = NSID_KEY_BOOL, .idef = 1, .offset = F(on)},
    {.name = "kind", .type = NSID_KEY_ENUM, .names = KINDS, .sdef = "sea", .offset = F(kind)},
    {.name = "name", .type = NSID_KEY_STRING, .sdef = "x", .offset = F(name)},
};
#define NT (sizeof T / sizeof T[0])

static const struct nsid_key *key(const char *name)
{
    return nsid_keys_find(T, NT, name);
}

/* Set name=value; the message ("" when it was accepted). */
static const char *set(struct cfg *c, const char *name, const char *value)
{
    static struct nsid_err err;
    memset(&err, 0, sizeof err);
    if (nsid_keys_set(key(name), c, value, "f.yaml", 3, &err) == 0) return "";
    CHECK(!strcmp(err.file, "f.yaml") && err.line == 3 && !strcmp(err.key, name), "%s: the error names f.yaml:3 and the key",
          name);
    return err.msg;
}

static void test_table(void)
{
    struct cfg c;
    memset(&c, 0xff, sizeof c);
    for (size_t i = 0; i < NT; i++) nsid_keys_set_default(&T[i], &c);
    CHECK(c.small == 4 && c.big == 5000000000 && c.seed == 7 && c.rate == 0.5 && c.on && c.kind == 2 &&
              !strcmp(c.name, "x"),
          "defaults");
    CHECK(key("nope") == NULL && key("rate") == &T[3], "find");

    CHECK(!strcmp(set(&c, "small", "-3"), "") && c.small == -3, "an int field at its lower bound");
    CHECK(!strcmp(set(&c, "small", "+9"), "") && c.small == 9, "a '+' sign");
    CHECK(!strcmp(set(&c, "small", "10"), "10 not in [-3, 9]"), "above the bound");
    CHECK(!strcmp(set(&c, "small", " 1"), "expected an integer, got ' 1'"), "no spaces");
    CHECK(!strcmp(set(&c, "small", "1.0"), "expected an integer, got '1.0'"), "not an integer");
    CHECK(c.small == 9, "a refused value leaves the field");
    CHECK(!strcmp(set(&c, "big", "9000000000"), "") && c.big == 9000000000, "an int64 field");
    CHECK(strstr(set(&c, "big", "99999999999999999999"), "not in [0, 9223372036854775807]"), "overflow");
    CHECK(!strcmp(set(&c, "seed", "18446744073709551615"), "") && c.seed == UINT64_MAX, "the full uint64 range");
    CHECK(!strcmp(set(&c, "seed", "-1"), "'-1' is not an unsigned integer"), "no sign on an unsigned");
    CHECK(!strcmp(set(&c, "seed", "18446744073709551616"), "'18446744073709551616' is not an unsigned integer"),
          "unsigned overflow");
    CHECK(!strcmp(set(&c, "rate", "1e-3"), "") && c.rate == 1e-3, "a number with an exponent");
    CHECK(!strcmp(set(&c, "rate", "0"), "0 not in (0, 1]"), "an open lower bound");
    CHECK(!strcmp(set(&c, "rate", "0x1"), "expected a number, got '0x1'"), "no hex");
    CHECK(!strcmp(set(&c, "rate", "1e999"), "1e999 is not a finite number"), "finite");
    CHECK(!strcmp(set(&c, "on", "False"), "") && !c.on, "False");
    CHECK(!strcmp(set(&c, "on", "yes"), "expected true or false, got 'yes'"), "yes is not a boolean");
    CHECK(!strcmp(set(&c, "on", "1"), "expected true or false, got '1'"), "1 is not a boolean");
    CHECK(!strcmp(set(&c, "kind", "bee"), "") && c.kind == 1, "an enum name");
    CHECK(!strcmp(set(&c, "kind", "b"), "expected one of a, bee, sea, got 'b'"), "an enum error lists every name");
    CHECK(!strcmp(set(&c, "name", "1234567"), "") && !strcmp(c.name, "1234567"), "a string that fits");
    CHECK(!strcmp(set(&c, "name", "12345678"), "string of 8 bytes, at most 7 allowed"), "a string too long");

    CHECK(nsid_keys_in_bounds(key("small"), &c), "in bounds");
    c.small = 12;
    c.kind = 3;
    c.rate = 0;
    CHECK(!nsid_keys_in_bounds(key("small"), &c) && !nsid_keys_in_bounds(key("kind"), &c) &&
              !nsid_keys_in_bounds(key("rate"), &c),
          "a hand-filled struct out of bounds");
    char b[64];
    nsid_keys_format_bounds(key("rate"), b, sizeof b);
    CHECK(!strcmp(b, "(0, 1]"), "bounds: %s", b);
}

/* The simulator's keys follow the same rules (they were its own: yes/on, two enum names). */
static void test_simulator(void)
{
    struct nsid_sim_config c;
    struct nsid_err err = {0};
    CHECK(nsid_sim_config_init(&c, "smoke", &err) == 0, "smoke profile");
    static const struct {
        const char *set, *msg;
    } bad[] = {
        {"eye.enabled=yes", "eye.enabled: expected true or false, got 'yes'"},
        {"behavior.enabled=on", "behavior.enabled: expected true or false, got 'on'"},
        {"image_sets=mine", "image_sets: expected one of own, paper, got 'mine'"},
        {"output.format=zip", "output.format: expected one of h5, tree, got 'zip'"},
        {"4s.neurons=-5", "4s.neurons: -5 not in [1, 1000000]"},
        {"noise.overdispersion=0", "noise.overdispersion: 0 not in [0.1, 1000000]"},
        {"threads=2.5", "threads: expected an integer, got '2.5'"},
        {"seed=x", "seed: 'x' is not an unsigned integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        char buf[1200];
        int rc = nsid_sim_config_set(&c, bad[i].set, &err);
        CHECK(rc < 0 && !strcmp(nsid_err_str(&err, buf, sizeof buf), bad[i].msg), "%s: '%s', want '%s'", bad[i].set,
              buf, bad[i].msg);
    }
    CHECK(nsid_sim_config_set(&c, "eye.enabled=TRUE", &err) == 0 && c.eye_movements, "TRUE");
    CHECK(nsid_sim_config_set(&c, "threads=3", &err) == 0 && c.threads == 3, "an int field");
    CHECK(nsid_sim_config_set(&c, "neurons=33", &err) == 0 && c.sizes[0].neurons == 33 && c.sizes[3].neurons == 33,
          "an int64 field, every role");
    c.height = 12; /* by hand, below its bound */
    memset(&err, 0, sizeof err);
    CHECK(nsid_sim_config_check(&c, &err) < 0 && !strcmp(err.key, "image.height") && strstr(err.msg, "12 not in [16,"),
          "a hand-filled value out of bounds: %s", err.msg);
}

int main(void)
{
    test_table();
    test_simulator();
    return check_summary("keys");
}
