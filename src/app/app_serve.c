/* SPDX-License-Identifier: MIT */
/* The serve and migrate commands (app layer): builds the process-lifetime objects from the
 * config, runs the server, and tears everything down in reverse order so LeakSanitizer sees
 * nothing at exit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "app/app_secret.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"
#include "net/net.h"

/* The SPA's policy (API.md §7.8, issue 6): everything from this origin, WebSockets to it. */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self' ws: wss:; font-src 'self'; "
                          "object-src 'none'; base-uri 'self'; form-action 'self'; "
                          "frame-ancestors 'none'";

static const char serve_usage[] = "usage: hiroba serve [options]\n\n"
                                  "Runs the HTTP and WebSocket server until SIGTERM or SIGINT.\n\n"
                                  "options:\n";

static const char migrate_usage[] = "usage: hiroba migrate [options]\n\n"
                                    "Creates or upgrades the database schema.\n\noptions:\n";

/* Splits a comma-separated list into a NULL-terminated array of trimmed strings. */
static char **split_list(const char *s, int *n_out)
{
    int n = 0;
    char **items = hb_xcalloc(strlen(s) + 2, sizeof(*items));
    const char *p = s;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        struct hb_str item = hb_str_trim_ows((struct hb_str){p, (size_t)(end - p)});
        if (item.len > 0) {
            items[n] = hb_xmalloc(item.len + 1);
            memcpy(items[n], item.ptr, item.len);
            items[n][item.len] = '\0';
            n++;
        }
        p = *end ? end + 1 : end;
    }
    *n_out = n;
    return items;
}

static void free_list(char **items)
{
    for (int i = 0; items != NULL && items[i] != NULL; i++)
        free(items[i]);
    free(items);
}

static _Thread_local struct hb_store_conn *worker_reader;

/* Pool threads running offloaded handlers open a reader each on first use; they live as long
 * as the process's pool and are closed when the server stops. */
#define POOL_READERS_MAX 128
static struct hb_store *serve_store;
static pthread_mutex_t pool_readers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hb_store_conn *pool_readers[POOL_READERS_MAX];
static int n_pool_readers;

struct hb_store_conn *hb_app_reader(void)
{
    if (hb_fiber_current() != NULL)
        return hb_store_writer(serve_store); /* the fiber's own connection */
    if (worker_reader != NULL)
        return worker_reader;
    struct hb_store_conn *conn = NULL;
    pthread_mutex_lock(&pool_readers_lock);
    if (n_pool_readers < POOL_READERS_MAX && hb_store_reader_open(serve_store, &conn) == 0)
        pool_readers[n_pool_readers++] = conn;
    pthread_mutex_unlock(&pool_readers_lock);
    /* Without one (the limit, a database down), the writer serves: slower, still correct. */
    worker_reader = conn != NULL ? conn : hb_store_writer(serve_store);
    return worker_reader;
}

static void close_pool_readers(void)
{
    pthread_mutex_lock(&pool_readers_lock);
    for (int i = 0; i < n_pool_readers; i++)
        hb_store_reader_close(pool_readers[i]);
    n_pool_readers = 0;
    pthread_mutex_unlock(&pool_readers_lock);
}

static void on_worker_start(struct hb_net_worker *worker, void *ctx)
{
    struct hb_app *app = ctx;
    hb_http_server_worker_start(worker);
    hb_app_ws_worker_start(worker);
    if (app->http.offload_in_fibers)
        return; /* the API's fibers take connections from the store's per-thread pool */
    if (hb_store_reader_open(app->store, &worker_reader) < 0) {
        /* Reads fall back to the writer; /readyz reports the database if it is truly down. */
        hb_log_error("worker %d: cannot open a database reader", hb_net_worker_index(worker));
        worker_reader = hb_store_writer(app->store);
    }
}

static void on_worker_stop(struct hb_net_worker *worker, void *ctx)
{
    struct hb_app *app = ctx;
    if (worker_reader != NULL && worker_reader != hb_store_writer(app->store))
        hb_store_reader_close(worker_reader);
    worker_reader = NULL;
    hb_store_thread_release(app->store);
    hb_fiber_thread_release();
    hb_app_ws_worker_stop(worker);
    hb_http_server_worker_stop(worker);
}

int hb_app_store_open(const struct hb_app_config *cfg, struct hb_store **out)
{
    struct hb_store_options opts = {.is_durable = cfg->durable, .fiber_conns = cfg->db_conns};
    struct hb_store *store = NULL;
    char shown[512];
    (void)hb_app_config_url_display(cfg->database, shown, sizeof(shown));
    int err = hb_store_open(cfg->database, &opts, &store);
    if (err < 0) {
        hb_log_error("database '%s': %s", shown, hb_strerror(err));
        return err;
    }
    err = hb_store_migrate(store);
    if (err < 0) {
        hb_log_error("migrate '%s': %s", shown, hb_strerror(err));
        hb_store_destroy(store);
        return err;
    }
    *out = store;
    return 0;
}

static int static_fallback(struct hb_http_request *req, struct hb_http_response *res)
{
    const struct hb_app *app = req->app;
    hb_http_static_serve(app->static_files, req, res);
    return 0;
}

static void setup_process(const struct hb_app_config *cfg)
{
    hb_log_setup(strcmp(cfg->log_format, "json") == 0, HB_LOG_INFO);
    /* One zone for the whole process: localtime_r() is then thread-safe and cheap. */
    setenv("TZ", cfg->time_zone, 1);
    tzset();
}

int hb_app_serve_main(int argc, char **argv)
{
    struct hb_app app;
    int rc = 1;

    memset(&app, 0, sizeof(app));
    int err = hb_app_config_load(&app.cfg, HB_CONFIG_SERVE, argc, argv, serve_usage);
    if (err != 0) {
        hb_app_config_release(&app.cfg);
        return err > 0 ? 0 : 2;
    }
    if (app.cfg.print_config) {
        hb_app_config_print(&app.cfg, stdout);
        hb_app_config_release(&app.cfg);
        return 0;
    }
    setup_process(&app.cfg);
    if (hb_app_secret_load(&app.cfg, &app.secret_key) < 0) {
        rc = 2;
        goto out;
    }

    if (hb_jwt_key_init(&app.jwt_key, app.secret_key, strlen(app.secret_key)) < 0)
        goto out;
    if (hb_app_store_open(&app.cfg, &app.store) < 0)
        goto out;

    if (hb_http_router_create(hb_app_routes, hb_app_n_routes, &app.router) < 0)
        goto out;
    if (hb_http_static_create(app.cfg.static_dir, csp, &app.static_files) < 0) {
        hb_log_error("static-dir '%s': invalid", app.cfg.static_dir);
        goto out;
    }
    int n_cors = 0, n_hosts = 0;
    app.cors_origins = split_list(app.cfg.cors_origins, &n_cors);
    app.allowed_hosts = split_list(app.cfg.allowed_hosts, &n_hosts);

    app.http = (struct hb_http_server_config){
        .router = app.router,
        .limits = {.max_head_len = (size_t)16 * 1024,
                   .max_target_len = (size_t)8 * 1024,
                   .max_headers = 100,
                   .max_body_len = (size_t)1024 * 1024},
        .head_timeout_ms = 10000,
        .body_timeout_ms = 10000,
        .keepalive_timeout_ms = 75000,
        .access_log = app.cfg.access_log,
        .guard = hb_app_guard,
        .fallback = static_fallback,
        .cors_origins = (const char *const *)app.cors_origins,
        .n_cors_origins = n_cors,
        .allowed_hosts = n_hosts > 0 ? (const char *const *)app.allowed_hosts : NULL,
        .n_allowed_hosts = n_hosts,
        .app = &app,
        /* libpq waits on the network: those handlers run as fibers whose waits park them on
         * the loop (SQLite reads are short local page reads, cheapest straight on the loop). */
        .offload_handlers = strcmp(hb_store_backend_name(app.store), "sqlite") != 0,
    };
    app.http.offload_in_fibers = app.http.offload_handlers;
    /* HIROBA_OFFLOAD_HANDLERS=pool runs them on the thread pool instead (PostgreSQL), =1 makes
     * the SQLite suite take that path too, so it has no blind spot; =0 keeps them on the loop. */
    const char *force = getenv("HIROBA_OFFLOAD_HANDLERS");
    if (force != NULL && force[0] != '\0') {
        app.http.offload_handlers = strcmp(force, "0") != 0;
        app.http.offload_in_fibers =
            app.http.offload_in_fibers && strcmp(force, "pool") != 0 && strcmp(force, "1") != 0;
    }
    serve_store = app.store;
    if (app.http.offload_handlers) {
        char n[16];
        snprintf(n, sizeof(n), "%d", app.cfg.workers * 8 < 16 ? 16 : app.cfg.workers * 8);
        setenv("UV_THREADPOOL_SIZE", n, 0); /* read by libuv when it starts its pool */
    }
    hb_http_server_configure(&app.http);

    struct hb_net_config net = {
        .host = app.cfg.listen_host,
        .port = app.cfg.listen_port,
        .n_workers = app.cfg.workers,
        .backlog = 1024,
        .max_conns = app.cfg.max_connections,
        .over_capacity = hb_http_server_busy_response(),
        .drain_timeout_ms = app.cfg.drain_timeout_ms,
        .handler = hb_http_server_conn_handler(),
        .on_worker_start = on_worker_start,
        .on_worker_stop = on_worker_stop,
        .ctx = &app,
    };
    hb_app_ws_start(&app);
    if (hb_app_relay_start(&app) < 0) {
        hb_app_relay_stop();
        hb_app_ws_stop();
        goto out;
    }
    hb_app_purge_start(app.store);
    err = hb_net_serve(&net);
    hb_app_purge_stop();
    hb_app_relay_stop();
    hb_app_ws_stop();
    close_pool_readers();
    if (err == 0) {
        hb_log_info("drained, exiting");
        rc = 0;
    }

out:
    free_list(app.allowed_hosts);
    free_list(app.cors_origins);
    hb_http_static_destroy(app.static_files);
    hb_http_router_destroy(app.router);
    hb_store_destroy(app.store);
    hb_jwt_key_release(&app.jwt_key);
    free(app.secret_key);
    hb_app_config_release(&app.cfg);
    return rc;
}

int hb_app_migrate_main(int argc, char **argv)
{
    struct hb_app_config cfg;
    int err = hb_app_config_load(&cfg, HB_CONFIG_MIGRATE, argc, argv, migrate_usage);
    if (err != 0) {
        hb_app_config_release(&cfg);
        return err > 0 ? 0 : 2;
    }
    setup_process(&cfg);
    struct hb_store *store = NULL;
    err = hb_app_store_open(&cfg, &store);
    char shown[512];
    if (err == 0)
        hb_log_info("migrate '%s': schema up to date",
                    hb_app_config_url_display(cfg.database, shown, sizeof(shown)));
    hb_store_destroy(store);
    hb_app_config_release(&cfg);
    return err == 0 ? 0 : 1;
}
