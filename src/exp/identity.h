/*
 * identity.h - a run's identity: configuration, core and data (the text plan.h describes).
 * Apart from plan.h so that nsid-train and nsid-eval compute the planner's ids without the
 * spec types.
 */
#ifndef NSID_IDENTITY_H
#define NSID_IDENTITY_H

#include <stddef.h>

#include "base/sha256.h"
#include "exp/config.h"

#define NSID_IDENTITY_VERSION 1

/*
 * The identity JSON of a configuration (plan.h, at the top): core is what replaces
 * model.core.checkpoint ("" none, "sha256:<hex>", "select:<id>"), data_sha the scans'
 * hashes. Writes at most n bytes into buf (NUL-terminated) and returns the full length,
 * like snprintf; id (may be NULL) gets its sha256 when the whole text fit.
 */
size_t nsid_identity_plan(const struct nsid_config *c, const char *core, const char *const *data_sha, int n_data,
                          char *buf, size_t n, char id[NSID_SHA256_HEX]);

#endif
