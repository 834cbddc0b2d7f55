/* SPDX-License-Identifier: MIT */
/* Housekeeping (app layer): an hourly job, on a thread of its own so it never runs on a loop,
 * that deletes expired outstanding tokens with their blacklist rows (API.md §9) and login
 * failures older than the throttle window (§7.5). */
#include <pthread.h>
#include <time.h>

#include "app/app.h"
#include "core/clock.h"
#include "core/log.h"

#define PURGE_INTERVAL_S   ((time_t)60 * 60)
#define THROTTLE_WINDOW_US (15LL * 60 * 1000000)

static pthread_t purge_thread;
static pthread_mutex_t purge_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t purge_cond = PTHREAD_COND_INITIALIZER;
static bool purge_stop;
static bool purge_running;

static void purge_once(struct hb_store *store)
{
    int64_t now = hb_clock_unix_us(), n = 0;
    struct hb_store_conn *db = hb_store_writer(store);
    if (hb_store_token_purge(db, now, &n) == 0 && n > 0)
        hb_log_info("purged %lld expired tokens", (long long)n);
    (void)hb_store_throttle_purge(db, now - THROTTLE_WINDOW_US);
}

static void *purge_main(void *arg)
{
    struct hb_store *store = arg;
    pthread_mutex_lock(&purge_lock);
    while (!purge_stop) {
        pthread_mutex_unlock(&purge_lock);
        purge_once(store);
        pthread_mutex_lock(&purge_lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += PURGE_INTERVAL_S;
        while (!purge_stop && pthread_cond_timedwait(&purge_cond, &purge_lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&purge_lock);
    return NULL;
}

void hb_app_purge_start(struct hb_store *store)
{
    purge_stop = false;
    purge_running = pthread_create(&purge_thread, NULL, purge_main, store) == 0;
}

void hb_app_purge_stop(void)
{
    if (!purge_running)
        return;
    pthread_mutex_lock(&purge_lock);
    purge_stop = true;
    pthread_cond_signal(&purge_cond);
    pthread_mutex_unlock(&purge_lock);
    pthread_join(purge_thread, NULL);
    purge_running = false;
}
