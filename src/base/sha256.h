/*
 * sha256.h - SHA-256 (FIPS 180-2) for run ids and content hashes.
 *
 * One-shot:
 *     char hex[NSID_SHA256_HEX];
 *     nsid_sha256_hex(hex, text, strlen(text));     // 64 lowercase hex digits + NUL
 * Streaming (files, several pieces):
 *     struct nsid_sha256 h;
 *     nsid_sha256_init(&h);
 *     nsid_sha256_update(&h, buf, n);  ...
 *     unsigned char digest[NSID_SHA256_BYTES];
 *     nsid_sha256_final(&h, digest);
 *
 * The context is a plain struct (no allocation, no global state); a message of
 * any length up to 2^61 - 1 bytes.
 */
#ifndef NSID_SHA256_H
#define NSID_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define NSID_SHA256_BYTES 32
#define NSID_SHA256_HEX 65 /* 64 hex digits + NUL */

struct nsid_sha256 {
    uint32_t h[8];          /* chaining state H0..H7 */
    uint64_t n_bytes;       /* message bytes consumed so far */
    unsigned char buf[64];  /* pending partial block */
    size_t n_buf;           /* bytes pending in buf, 0..63 */
};

/* Start a new message. */
void nsid_sha256_init(struct nsid_sha256 *h);
/* Append n bytes (data may be NULL when n is 0). */
void nsid_sha256_update(struct nsid_sha256 *h, const void *data, size_t n);
/* Pad, write the 32-byte digest; h must be re-initialised before reuse. */
void nsid_sha256_final(struct nsid_sha256 *h, unsigned char digest[NSID_SHA256_BYTES]);
/* Digest of one buffer as 64 lowercase hex digits and a NUL. */
void nsid_sha256_hex(char hex[NSID_SHA256_HEX], const void *data, size_t n);
/* Write the hex form of a digest (64 digits + NUL). */
void nsid_sha256_to_hex(char hex[NSID_SHA256_HEX], const unsigned char digest[NSID_SHA256_BYTES]);

#endif
