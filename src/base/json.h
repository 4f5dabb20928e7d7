/*
 * json.h - JSON in nsid: libjansson reads every JSON text; one escaper writes every JSON string.
 *
 *     json_t *root;
 *     if (nsid_json_parse(text, "config.json", &root, err) < 0) return err->code;  // file:line: message
 *     const char *s = json_string_value(json_object_get(root, "name"));
 *     json_decref(root);
 *
 *     char q[256];
 *     nsid_json_quote("a \"b\"", q, sizeof q);    // "\"a \\\"b\\\"\"", snprintf-like
 *
 * Writers build their text themselves (the canonical configuration that run ids hash, groups.json's
 * one-line-per-entry layout) and quote every string with nsid_json_quote, which writes the bytes
 * the canonical configuration has always had: \" \\ \b \f \n \r \t, other control bytes as \u00xx
 * (lower-case hex; jansson writes upper case, which would change every run id whose configuration
 * holds one), every other byte as it is. jansson reads all of it back (tests/test_json.c).
 */
#ifndef NSID_JSON_H
#define NSID_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "base/err.h"

/*
 * Parse text as one JSON value into *out (the caller json_decref's it). A syntax error, text that is
 * not UTF-8, or more than 64 levels of nesting: NSID_EFORMAT naming file and the line, with
 * jansson's reason and the byte offset.
 */
int nsid_json_parse(const char *text, size_t len, const char *file, json_t **out, struct nsid_err *err);

/*
 * s as a JSON string literal (with its quotes) into buf, snprintf-like: writes at most n bytes
 * including a NUL (nothing when n is 0) and returns the full length.
 */
size_t nsid_json_quote(const char *s, char *buf, size_t n);

#endif
