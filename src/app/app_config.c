/* SPDX-License-Identifier: MIT */
/* The settings table and its parser (app layer). Each row knows its flag, env variable,
 * default, kind, and the field it fills, so adding a setting is one row. */
#include "app/app_config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"

enum kind { K_STR, K_INT, K_BOOL, K_LISTEN, K_SECONDS };

struct setting {
    const char *flag; /* without the leading "--" */
    const char *env;
    const char *def; /* NULL: unset */
    enum kind kind;
    size_t offset;
    unsigned scopes; /* bit per enum hb_app_config_scope */
    bool is_secret;
    const char *help;
};

#define S_SERVE   (1u << HB_CONFIG_SERVE)
#define S_MIGRATE (1u << HB_CONFIG_MIGRATE)
#define S_USER    (1u << HB_CONFIG_USER)
#define S_ALL     (S_SERVE | S_MIGRATE | S_USER)
#define OFF(f)    offsetof(struct hb_app_config, f)

static const struct setting settings[] = {
    {"listen", "HIROBA_LISTEN", "127.0.0.1:8000", K_LISTEN, OFF(listen_host), S_SERVE, false,
     "address and port to listen on (IPv6 as [::1]:8000)"},
    {"workers", "HIROBA_WORKERS", NULL, K_INT, OFF(workers), S_SERVE, false,
     "worker threads, each with its own event loop (default: number of cores)"},
    {"database", "DATABASE_URL", "sqlite:///hiroba.sqlite3", K_STR, OFF(database), S_ALL, false,
     "database URL: sqlite:///path or postgres://..."},
    {"db-conns", "HIROBA_DB_CONNS", "8", K_INT, OFF(db_conns), S_SERVE, false,
     "PostgreSQL: connections per worker for API requests (1-64)"},
    {"redis", "REDIS_URL", NULL, K_STR, OFF(redis), S_SERVE, false,
     "Redis URL for several instances (unset: single instance)"},
    {"secret-key", "HIROBA_SECRET_KEY", NULL, K_STR, OFF(secret_key), S_SERVE, true,
     "JWT signing key, at least 32 bytes (Django's SECRET_KEY to share tokens)"},
    {"secret-key-file", "HIROBA_SECRET_KEY_FILE", NULL, K_STR, OFF(secret_key_file), S_SERVE, false,
     "file holding the JWT signing key"},
    {"static-dir", "HIROBA_STATIC_DIR", "web/dist", K_STR, OFF(static_dir), S_SERVE, false,
     "directory of the built single-page app"},
    {"cors-origins", "HIROBA_CORS_ORIGINS", "", K_STR, OFF(cors_origins), S_SERVE, false,
     "comma-separated allowed CORS origins (scheme://host[:port]) or *"},
    {"allowed-hosts", "HIROBA_ALLOWED_HOSTS", "", K_STR, OFF(allowed_hosts), S_SERVE, false,
     "comma-separated Host header values to accept (empty: any)"},
    {"time-zone", "HIROBA_TIME_ZONE", "Asia/Tokyo", K_STR, OFF(time_zone), S_ALL, false,
     "IANA time zone for created_at display and input"},
    {"page-size", "HIROBA_PAGE_SIZE", "0", K_INT, OFF(page_size), S_SERVE, false,
     "default page size for lists (0: plain lists, as the seed stack)"},
    {"access-ttl", "HIROBA_ACCESS_TTL", "120", K_SECONDS, OFF(access_ttl_s), S_SERVE, false,
     "access token lifetime in seconds (keep above 60)"},
    {"refresh-ttl", "HIROBA_REFRESH_TTL", "604800", K_SECONDS, OFF(refresh_ttl_s), S_SERVE, false,
     "refresh token lifetime in seconds"},
    {"log-format", "HIROBA_LOG_FORMAT", NULL, K_STR, OFF(log_format), S_ALL, false,
     "text or json (default: text on a terminal, json otherwise)"},
    {"access-log", "HIROBA_ACCESS_LOG", "on", K_BOOL, OFF(access_log), S_SERVE, false,
     "log one line per request (on/off)"},
    {"max-connections", "HIROBA_MAX_CONNECTIONS", "10000", K_INT, OFF(max_connections), S_SERVE,
     false, "open connections before new ones get 503"},
    {"drain-timeout", "HIROBA_DRAIN_TIMEOUT", "10", K_SECONDS, OFF(drain_timeout_ms), S_SERVE,
     false, "seconds to let in-flight requests finish on SIGTERM"},
    {"username", "HIROBA_SUPERUSER_USERNAME", NULL, K_STR, OFF(username), S_USER, false,
     "the new staff account's username (asked on a terminal when absent)"},
    {"email", "HIROBA_SUPERUSER_EMAIL", "", K_STR, OFF(email), S_USER, false,
     "the new staff account's email (may be empty)"},
    {"durable", "HIROBA_DURABLE", "off", K_BOOL, OFF(durable), S_ALL, false,
     "SQLite synchronous=FULL: no commit lost on power failure"},
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static int set_value(struct hb_app_config *cfg, const struct setting *s, const char *value,
                     const char *source)
{
    char *field = (char *)cfg + s->offset;
    char *end;
    long v;

    switch (s->kind) {
    case K_STR:
        free(*(char **)field);
        *(char **)field = hb_xstrdup(value);
        return 0;
    case K_INT:
    case K_SECONDS:
        errno = 0;
        v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < 0 || v > INT_MAX / 1000) {
            fprintf(stderr, "hiroba: %s '%s' (%s): not a non-negative integer\n", s->flag, value,
                    source);
            return HB_EINVAL;
        }
        *(int *)field = (int)(s->offset == OFF(drain_timeout_ms) ? v * 1000 : v);
        return 0;
    case K_BOOL:
        if (!strcmp(value, "on") || !strcmp(value, "1") || !strcmp(value, "true") ||
            !strcmp(value, "yes")) {
            *(bool *)field = true;
        } else if (!strcmp(value, "off") || !strcmp(value, "0") || !strcmp(value, "false") ||
                   !strcmp(value, "no")) {
            *(bool *)field = false;
        } else {
            fprintf(stderr, "hiroba: %s '%s' (%s): expected on or off\n", s->flag, value, source);
            return HB_EINVAL;
        }
        return 0;
    case K_LISTEN: {
        const char *colon = strrchr(value, ':');
        if (colon == NULL || colon == value || colon[1] == '\0') {
            fprintf(stderr, "hiroba: listen '%s' (%s): expected host:port\n", value, source);
            return HB_EINVAL;
        }
        errno = 0;
        v = strtol(colon + 1, &end, 10);
        if (errno != 0 || *end != '\0' || v < 0 || v > 65535) {
            fprintf(stderr, "hiroba: listen '%s' (%s): bad port\n", value, source);
            return HB_EINVAL;
        }
        const char *host = value;
        size_t host_len = (size_t)(colon - value);
        if (host[0] == '[' && host[host_len - 1] == ']') {
            host++;
            host_len -= 2;
        }
        free(cfg->listen_host);
        cfg->listen_host = hb_xmalloc(host_len + 1);
        memcpy(cfg->listen_host, host, host_len);
        cfg->listen_host[host_len] = '\0';
        cfg->listen_port = (int)v;
        return 0;
    }
    }
    return HB_EINVAL;
}

static const struct setting *find_flag(const char *name, size_t len, unsigned scope_bit)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if ((settings[i].scopes & scope_bit) && strlen(settings[i].flag) == len &&
            strncmp(settings[i].flag, name, len) == 0)
            return &settings[i];
    }
    return NULL;
}

void hb_app_config_help(enum hb_app_config_scope scope, FILE *out)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        if (!(s->scopes & (1u << scope)))
            continue;
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s%s", s->flag, s->kind == K_BOOL ? "[=on|off]" : "=V");
        fprintf(out, "  %-28s %s\n  %-28s   env %s%s%s%s\n", flag, s->help, "", s->env,
                s->def ? ", default '" : "", s->def ? s->def : "", s->def ? "'" : "");
    }
    if (scope == HB_CONFIG_SERVE)
        fprintf(out, "  %-28s %s\n", "--print-config", "print the settings and exit");
    fprintf(out, "  %-28s %s\n", "--help", "show this help");
}

int hb_app_config_load(struct hb_app_config *cfg, enum hb_app_config_scope scope, int argc,
                       char **argv, const char *usage)
{
    unsigned bit = 1u << scope;
    int err;

    memset(cfg, 0, sizeof(*cfg));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->workers = ncpu > 0 ? (int)ncpu : 1;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (settings[i].def != NULL &&
            (err = set_value(cfg, &settings[i], settings[i].def, "default")) < 0)
            return err;
    }
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        if ((settings[i].scopes & bit) && v != NULL && v[0] != '\0') {
            err = set_value(cfg, &settings[i], v, settings[i].env);
            if (err < 0)
                return err;
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(usage, stdout);
            hb_app_config_help(scope, stdout);
            return 1;
        }
        if (scope == HB_CONFIG_SERVE && !strcmp(arg, "--print-config")) {
            cfg->print_config = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "hiroba: unexpected argument '%s' (see --help)\n", arg);
            return HB_EINVAL;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const struct setting *s = find_flag(name, name_len, bit);
        if (s == NULL) {
            fprintf(stderr, "hiroba: unknown option '--%.*s' (see --help)\n", (int)name_len, name);
            return HB_EINVAL;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL && s->kind == K_BOOL) {
            /* "--durable" alone means on; "--access-log off" takes the next word. */
            static const char *const words[] = {"on",  "off", "true", "false",
                                                "yes", "no",  "1",    "0"};
            value = "on";
            for (size_t w = 0; i + 1 < argc && w < sizeof(words) / sizeof(words[0]); w++) {
                if (strcmp(argv[i + 1], words[w]) == 0) {
                    value = argv[++i];
                    break;
                }
            }
        } else if (value == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hiroba: option '--%s' needs a value\n", s->flag);
                return HB_EINVAL;
            }
            value = argv[++i];
        }
        err = set_value(cfg, s, value, "flag");
        if (err < 0)
            return err;
    }
    if (cfg->log_format == NULL)
        cfg->log_format = hb_xstrdup(isatty(STDERR_FILENO) ? "text" : "json");
    if (strcmp(cfg->log_format, "text") != 0 && strcmp(cfg->log_format, "json") != 0) {
        fprintf(stderr, "hiroba: log-format '%s': expected text or json\n", cfg->log_format);
        return HB_EINVAL;
    }
    if (cfg->workers < 1 || cfg->workers > 256) {
        fprintf(stderr, "hiroba: workers '%d': expected 1 to 256\n", cfg->workers);
        return HB_EINVAL;
    }
    if (cfg->page_size > 100) {
        fprintf(stderr, "hiroba: page-size '%d': at most 100\n", cfg->page_size);
        return HB_EINVAL;
    }
    return 0;
}

void hb_app_config_release(struct hb_app_config *cfg)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (settings[i].kind == K_STR)
            free(*(char **)((char *)cfg + settings[i].offset));
    }
    free(cfg->listen_host);
    memset(cfg, 0, sizeof(*cfg));
}

void hb_app_config_print(const struct hb_app_config *cfg, FILE *out)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        const char *field = (const char *)cfg + s->offset;
        fprintf(out, "%-16s = ", s->flag);
        switch (s->kind) {
        case K_STR: {
            const char *v = *(char *const *)field;
            char url[512];
            if (v != NULL && !s->is_secret && strstr(v, "://") != NULL)
                v = hb_app_config_url_display(v, url, sizeof(url));
            fprintf(out, "%s\n", v == NULL ? "(unset)" : s->is_secret ? "(redacted)" : v);
            break;
        }
        case K_INT:
            fprintf(out, "%d\n", *(const int *)field);
            break;
        case K_SECONDS:
            fprintf(out, "%d\n",
                    s->offset == OFF(drain_timeout_ms) ? *(const int *)field / 1000
                                                       : *(const int *)field);
            break;
        case K_BOOL:
            fprintf(out, "%s\n", *(const bool *)field ? "on" : "off");
            break;
        case K_LISTEN:
            fprintf(out, strchr(cfg->listen_host, ':') ? "[%s]:%d\n" : "%s:%d\n", cfg->listen_host,
                    cfg->listen_port);
            break;
        }
    }
}

char *hb_app_config_url_display(const char *url, char *out, size_t n)
{
    const char *start = strstr(url, "://");
    const char *auth_end = start != NULL ? start + 3 + strcspn(start + 3, "@/?#") : NULL;
    const char *colon = NULL;
    if (auth_end != NULL && *auth_end == '@')
        colon = memchr(start + 3, ':', (size_t)(auth_end - (start + 3)));
    if (colon == NULL)
        snprintf(out, n, "%s", url);
    else
        snprintf(out, n, "%.*s:***%s", (int)(colon - url), url, auth_end);
    return out;
}
