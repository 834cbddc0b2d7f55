/* SPDX-License-Identifier: MIT */
/* Settings (app layer): one table of every setting with its flag, environment variable,
 * default and help text. Precedence: command-line flag > environment > default (DESIGN.md).
 * The same table drives parsing, --help and --print-config (secrets redacted). */
#ifndef HB_APP_CONFIG_H
#define HB_APP_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

struct hb_app_config {
    char *listen_host;
    int listen_port;
    int workers;
    char *database;
    char *redis;
    char *secret_key;
    char *secret_key_file;
    char *static_dir;
    char *cors_origins;  /* comma-separated */
    char *allowed_hosts; /* comma-separated; empty: any */
    char *time_zone;
    int page_size; /* 0: plain lists */
    int access_ttl_s;
    int refresh_ttl_s;
    char *log_format; /* text | json */
    bool access_log;
    int max_connections;
    int drain_timeout_ms;
    int db_conns; /* PostgreSQL connections per worker for the API's fibers */
    bool durable;
    bool print_config;
    char *username; /* createsuperuser */
    char *email;    /* createsuperuser */
};

/* Which settings a command takes. */
enum hb_app_config_scope { HB_CONFIG_SERVE, HB_CONFIG_MIGRATE, HB_CONFIG_USER };

/* Fills cfg from argv (after the command name), the environment and the defaults. Returns 0,
 * 1 when --help was printed, or HB_EINVAL after printing a one-line error naming the setting. */
int hb_app_config_load(struct hb_app_config *cfg, enum hb_app_config_scope scope, int argc,
                       char **argv, const char *usage);

/* Frees the strings. */
void hb_app_config_release(struct hb_app_config *cfg);

/* url for logs and --print-config: a password in its userinfo ("scheme://user:pw@host") becomes
 * "***". Writes at most n bytes (n > 0) into out and returns out. */
char *hb_app_config_url_display(const char *url, char *out, size_t n);

/* Writes every setting as "name = value (source)", secrets redacted. */
void hb_app_config_print(const struct hb_app_config *cfg, FILE *out);

/* Writes the settings' help lines for a scope. */
void hb_app_config_help(enum hb_app_config_scope scope, FILE *out);

#endif
