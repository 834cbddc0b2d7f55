/* SPDX-License-Identifier: MIT */
/* The JWT signing key (app layer, DESIGN.md "Configuration"): from --secret-key /
 * HIROBA_SECRET_KEY, or --secret-key-file / HIROBA_SECRET_KEY_FILE, or, for development with
 * SQLite only, a key generated once and kept beside the database file with a warning. Keys
 * shorter than 32 bytes are refused. */
#ifndef HB_APP_SECRET_H
#define HB_APP_SECRET_H

#include "app/app_config.h"

/* Resolves the key into *out (heap, NUL-terminated; the caller frees it). Returns 0, or
 * HB_EINVAL after logging one line that names the setting or file at fault. */
int hb_app_secret_load(const struct hb_app_config *cfg, char **out);

/* The path of the development key for a sqlite:/// database URL, or NULL for other URLs.
 * Heap; the caller frees it. */
char *hb_app_secret_dev_path(const char *database_url);

#endif
