/* SPDX-License-Identifier: MIT */
/* `hiroba createsuperuser` (app layer): makes a staff and superuser account, as Django's command
 * does. Scripts pass --username/--email and HIROBA_SUPERUSER_PASSWORD; on a terminal the missing
 * values are asked for, the password twice and without echo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "app/app.h"
#include "auth/auth_password.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"

static const char usage[] = "usage: hiroba createsuperuser [options]\n\n"
                            "Creates a staff account. The password comes from\n"
                            "HIROBA_SUPERUSER_PASSWORD, or is asked for on a terminal.\n\n"
                            "options:\n";

/* Reads one line from the terminal, without echo when is_secret. Returns heap text or NULL. */
static char *prompt(const char *question, bool is_secret)
{
    struct termios old, quiet;
    char line[4200];
    fputs(question, stderr);
    fflush(stderr);
    bool has_tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (is_secret && has_tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    char *got = fgets(line, sizeof(line), stdin);
    if (is_secret && has_tty) {
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (got == NULL)
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    return hb_xstrdup(line);
}

int hb_app_createsuperuser_main(int argc, char **argv)
{
    struct hb_app_config cfg;
    struct hb_store *store = NULL;
    char *username = NULL, *password = NULL, *again = NULL;
    int rc = 1;

    int err = hb_app_config_load(&cfg, HB_CONFIG_USER, argc, argv, usage);
    if (err != 0) {
        hb_app_config_release(&cfg);
        return err > 0 ? 0 : 2;
    }
    hb_log_setup(strcmp(cfg.log_format, "json") == 0, HB_LOG_INFO);
    bool is_tty = isatty(STDIN_FILENO);
    username = cfg.username ? hb_xstrdup(cfg.username)
               : is_tty     ? prompt("Username: ", false)
                            : NULL;
    const char *env_pw = getenv("HIROBA_SUPERUSER_PASSWORD");
    if (env_pw != NULL && env_pw[0] != '\0') {
        password = hb_xstrdup(env_pw);
    } else if (is_tty) {
        password = prompt("Password: ", true);
        again = prompt("Password (again): ", true);
        if (password != NULL && (again == NULL || strcmp(password, again) != 0)) {
            fprintf(stderr, "hiroba: the passwords do not match\n");
            rc = 2;
            goto out;
        }
    }
    if (username == NULL || username[0] == '\0' || password == NULL) {
        fprintf(stderr, "hiroba: createsuperuser needs --username and HIROBA_SUPERUSER_PASSWORD "
                        "when not on a terminal\n");
        rc = 2;
        goto out;
    }
    if (strlen(password) < 8) {
        fprintf(stderr, "hiroba: the password must have at least 8 characters\n");
        rc = 2;
        goto out;
    }
    setenv("TZ", cfg.time_zone, 1);
    if (hb_app_store_open(&cfg, &store) < 0)
        goto out;
    struct hb_password_params params;
    char hash[HB_PASSWORD_ENCODED_MAX + 1];
    hb_password_params_init(&params);
    if (hb_password_hash(&params, password, strlen(password), hash, sizeof(hash)) < 0) {
        hb_log_error("createsuperuser: hashing failed");
        goto out;
    }
    struct hb_store_user_input in = {.username = hb_str_from(username),
                                     .password = hb_str_from(hash),
                                     .email = hb_str_from(cfg.email ? cfg.email : ""),
                                     .is_staff = true,
                                     .is_superuser = true};
    int64_t id;
    err = hb_store_user_create(hb_store_writer(store), &in, &id);
    if (err == HB_EEXIST) {
        fprintf(stderr, "hiroba: username '%s' is already taken\n", username);
        goto out;
    }
    if (err < 0) {
        hb_log_error("createsuperuser '%s': %s", username, hb_strerror(err));
        goto out;
    }
    fprintf(stderr, "superuser '%s' created (id %lld)\n", username, (long long)id);
    rc = 0;

out:
    if (password != NULL)
        memset(password, 0, strlen(password));
    free(password);
    free(again);
    free(username);
    hb_store_destroy(store);
    hb_app_config_release(&cfg);
    return rc;
}
