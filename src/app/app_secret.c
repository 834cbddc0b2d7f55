/* SPDX-License-Identifier: MIT */
/* Secret key resolution (app layer). The development key is written with mode 0600 and created
 * with O_EXCL, so two processes starting at once agree on one key. */
#include "app/app_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"

#define MIN_KEY_LEN 32
#define MAX_KEY_LEN 4096

char *hb_app_secret_dev_path(const char *database_url)
{
    static const char prefix[] = "sqlite:///";
    if (strncmp(database_url, prefix, sizeof(prefix) - 1) != 0)
        return NULL;
    const char *path = database_url + sizeof(prefix) - 1;
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) : 0;
    size_t n = dir_len + sizeof("/.hiroba_secret_key") + 2;
    char *out = hb_xmalloc(n);
    if (slash == NULL)
        snprintf(out, n, ".hiroba_secret_key");
    else if (dir_len == 0)
        snprintf(out, n, "/.hiroba_secret_key");
    else
        snprintf(out, n, "%.*s/.hiroba_secret_key", (int)dir_len, path);
    return out;
}

static int read_key_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        hb_log_error("secret key file '%s': %s", path, strerror(errno));
        return HB_EINVAL;
    }
    char *buf = hb_xmalloc(MAX_KEY_LEN + 2);
    size_t n = fread(buf, 1, MAX_KEY_LEN + 1, f);
    fclose(f);
    if (n > MAX_KEY_LEN) {
        free(buf);
        hb_log_error("secret key file '%s': larger than %d bytes", path, MAX_KEY_LEN);
        return HB_EINVAL;
    }
    /* A trailing newline from an editor or `echo` is not part of the key. */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static int generate_dev_key(const char *path, char **out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)";
    unsigned char rnd[50];
    char key[51];

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return read_key_file(path, out);
        hb_log_error("secret key file '%s': %s", path, strerror(errno));
        return HB_EINVAL;
    }
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        close(fd);
        unlink(path);
        hb_log_error("secret key: no randomness available");
        return HB_EINVAL;
    }
    /* 50 characters of Django's get_random_secret_key() alphabet (~280 bits). The modulo bias
     * (256 % 50 = 6) costs under 0.2 bit per character. */
    for (size_t i = 0; i < sizeof(rnd); i++)
        key[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    key[50] = '\0';
    if (write(fd, key, 50) != 50 || close(fd) != 0) {
        unlink(path);
        hb_log_error("secret key file '%s': write failed", path);
        return HB_EINVAL;
    }
    hb_log_warn("generated a development secret key in '%s': set HIROBA_SECRET_KEY or "
                "--secret-key-file in production",
                path);
    *out = hb_xstrdup(key);
    return 0;
}

int hb_app_secret_load(const struct hb_app_config *cfg, char **out)
{
    char *key = NULL;
    const char *source;
    int err;

    if (cfg->secret_key != NULL && cfg->secret_key[0] != '\0') {
        key = hb_xstrdup(cfg->secret_key);
        source = "secret-key";
    } else if (cfg->secret_key_file != NULL && cfg->secret_key_file[0] != '\0') {
        err = read_key_file(cfg->secret_key_file, &key);
        if (err < 0)
            return err;
        source = cfg->secret_key_file;
    } else {
        char *path = hb_app_secret_dev_path(cfg->database);
        if (path == NULL) {
            hb_log_error("secret-key: required with database '%s' (set HIROBA_SECRET_KEY)",
                         cfg->database);
            return HB_EINVAL;
        }
        err = generate_dev_key(path, &key);
        free(path);
        if (err < 0)
            return err;
        source = "development key";
    }
    if (strlen(key) < MIN_KEY_LEN) {
        hb_log_error("secret key from '%s': shorter than %d bytes", source, MIN_KEY_LEN);
        free(key);
        return HB_EINVAL;
    }
    *out = key;
    return 0;
}
