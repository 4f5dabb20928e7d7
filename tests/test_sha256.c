/* test_sha256.c - SHA-256 against the FIPS 180-2 test vectors and padding boundaries. */
#include <string.h>

#include "base/sha256.h"
#include "check.h"

/* FIPS 180-2 Appendix B (one-block, two-block and long messages) plus the empty message. */
static void test_fips_vectors(void)
{
    char hex[NSID_SHA256_HEX];
    nsid_sha256_hex(hex, "abc", 3);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "B.1 'abc': %s", hex);
    const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    nsid_sha256_hex(hex, m2, strlen(m2));
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
          "B.2 448-bit message: %s", hex);
    nsid_sha256_hex(hex, "", 0);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
          "empty message: %s", hex);
    const char *m4 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                     "klmnopqrlmnopqrsmnopqrstnopqrstu";
    nsid_sha256_hex(hex, m4, strlen(m4));
    CHECK(strcmp(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1") == 0,
          "896-bit message: %s", hex);

    /* B.3: one million 'a', fed in uneven pieces to exercise the buffering. */
    static char a[1000];
    memset(a, 'a', sizeof a);
    struct nsid_sha256 h;
    unsigned char d[NSID_SHA256_BYTES];
    nsid_sha256_init(&h);
    size_t left = 1000000, piece = 1;
    while (left > 0) {
        size_t n = piece < left ? piece : left;
        nsid_sha256_update(&h, a, n);
        left -= n;
        piece = piece % 977 + 13; /* 13..989: stays inside a[] */
    }
    nsid_sha256_final(&h, d);
    nsid_sha256_to_hex(hex, d);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
          "B.3 one million 'a': %s", hex);
}

/* Lengths around the padding boundaries (55/56 and 119/120 bytes), values from Python's hashlib. */
static void test_padding_boundaries(void)
{
    static const struct { size_t n; const char *hex; } v[] = {
        {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
        {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
        {57, "35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73"},
        {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
        {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
        {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
        {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
        {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
        {127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07"},
        {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
    };
    unsigned char msg[128];
    for (int i = 0; i < 128; i++) msg[i] = (unsigned char)((i * 7 + 3) & 255);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        char hex[NSID_SHA256_HEX];
        nsid_sha256_hex(hex, msg, v[k].n);
        CHECK(strcmp(hex, v[k].hex) == 0, "%zu-byte message: %s", v[k].n, hex);
        /* The same message split at every position gives the same digest. */
        int same = 1;
        for (size_t cut = 0; cut <= v[k].n; cut++) {
            struct nsid_sha256 h;
            unsigned char d[NSID_SHA256_BYTES];
            char hx[NSID_SHA256_HEX];
            nsid_sha256_init(&h);
            nsid_sha256_update(&h, msg, cut);
            nsid_sha256_update(&h, msg + cut, v[k].n - cut);
            nsid_sha256_final(&h, d);
            nsid_sha256_to_hex(hx, d);
            same &= strcmp(hx, v[k].hex) == 0;
        }
        CHECK(same, "%zu-byte message split anywhere hashes the same", v[k].n);
    }
}

int main(void)
{
    test_fips_vectors();
    test_padding_boundaries();
    return check_summary("sha256");
}
