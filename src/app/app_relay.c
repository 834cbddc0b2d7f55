/* SPDX-License-Identifier: MIT */
/* Chat order, headcount and events across instances (app layer, API.md §6.3, §6.5, §6.6;
 * DESIGN.md "Scale-out").
 *
 * Every chat message reaches the hub through one sequencer per room: it remembers the last id
 * it let through and lets a message through only when the message's predecessor (prev_id, which
 * the store returns with each insert, inserts into one room being serialised by the database) is
 * that id. A message whose predecessor has not been seen yet (it is still on its way through
 * Redis, or Redis lost it) is held; if the gap is not filled within GAP_WAIT_MS, the catch-up
 * thread reads the room's messages after the last id from the database, the source of truth,
 * and feeds them through the sequencer. The same happens for every room with local sockets after
 * Redis comes back. So each socket sees a room's messages in strictly increasing id order, with no
 * gap, whichever instance stored them.
 *
 * A room has a sequencer while this instance has sockets in it: the first socket's join reads the
 * room's last id, which starts the chain (older messages are the joining socket's replay).
 *
 * With REDIS_URL set, each message stored here, each presence change, each deleted room and each
 * BBS event is published once on one Redis channel, tagged with this instance's id; what other
 * instances publish is handed to the local hub. The same thread beats for this instance in the
 * database (hiroba_instance) and gives back the seats of instances that stopped beating. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "pubsub/pubsub_redis.h"

#define N_SEQ_BUCKETS 1024
#define GAP_WAIT_MS   50
#define CATCHUP_BATCH 1000
/* The sequencer of BBS events (ids: the store's event clock), kept with the rooms' ones. */
#define BBS_SEQ_ROOM (-1)
#define CHANNEL      "hiroba:events"

/* A message waiting for its predecessor. */
struct held {
    struct held *next;
    int64_t id, prev;
    char *seed, *v1;
    size_t seed_len, v1_len;
};

struct seq {
    struct seq *next;
    int64_t room;
    int64_t last;      /* the last id let through */
    int n_local;       /* joined sockets of this instance */
    struct held *held; /* ascending id */
    int64_t gap_since_ms;
    bool needs_catchup;
};

struct relay {
    struct hb_app *app;
    pthread_mutex_t lock;       /* the sequencers; held briefly, loops take it too */
    pthread_mutex_t write_lock; /* this instance's chat inserts: see hb_app_relay_write_begin */
    pthread_cond_t wake;
    pthread_t thread;
    bool is_running, stop;
    struct seq *buckets[N_SEQ_BUCKETS];
    struct hb_redis *redis;
    char instance[33];
    int64_t beat_ms, stale_ms;
    struct hb_store_conn *reader; /* the catch-up thread's */
};

static struct relay relay = {.lock = PTHREAD_MUTEX_INITIALIZER,
                             .write_lock = PTHREAD_MUTEX_INITIALIZER,
                             .wake = PTHREAD_COND_INITIALIZER};

struct hb_str hb_app_instance(void)
{
    return hb_str_from(relay.instance);
}

static int64_t now_ms(void)
{
    return (int64_t)(hb_clock_mono_ns() / 1000000);
}

/* ---- sequencers (relay.lock held) ---- */

static struct seq **seq_slot(int64_t room)
{
    struct seq **p = &relay.buckets[(uint64_t)room % N_SEQ_BUCKETS];
    while (*p != NULL && (*p)->room != room)
        p = &(*p)->next;
    return p;
}

static char *memdup(const char *p, size_t len)
{
    char *out = hb_xmalloc(len + 1);
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

static void held_free(struct held *h)
{
    free(h->seed);
    free(h->v1);
    free(h);
}

static void seq_free(struct seq *s)
{
    for (struct held *h = s->held, *next; h != NULL; h = next) {
        next = h->next;
        held_free(h);
    }
    free(s);
}

static void seq_pass(struct seq *s, int64_t id, const char *seed, size_t seed_len, const char *v1,
                     size_t v1_len)
{
    s->last = id;
    if (s->room == BBS_SEQ_ROOM)
        hb_app_ws_deliver_bbs(v1, v1_len);
    else
        hb_app_ws_deliver_message(s->room, id, seed, seed_len, v1, v1_len);
}

/* Lets the held messages through whose predecessor has now passed. */
static void seq_flush(struct seq *s)
{
    while (s->held != NULL && s->held->prev <= s->last) {
        struct held *h = s->held;
        s->held = h->next;
        if (h->id > s->last)
            seq_pass(s, h->id, h->seed, h->seed_len, h->v1, h->v1_len);
        held_free(h);
    }
    if (s->held == NULL)
        s->gap_since_ms = 0;
}

/* Gives up waiting for what is missing before the first held message and lets the held ones
 * through in order. */
static void seq_skip_gap(struct seq *s)
{
    s->last = s->held->prev > s->last ? s->held->prev : s->last;
    seq_flush(s);
}

/* Offers message (id, prev) of room to the sequencer. */
static void sequence(int64_t room, int64_t id, int64_t prev, const char *seed, size_t seed_len,
                     const char *v1, size_t v1_len)
{
    struct seq *s = *seq_slot(room);
    if (s == NULL) {
        /* No joined socket here: one still replaying gets it from its pending list and skips
         * what it replayed, so pass it on unsequenced. */
        hb_app_ws_deliver_message(room, id, seed, seed_len, v1, v1_len);
        return;
    }
    if (id <= s->last)
        return; /* seen: the echo of our own, or a catch-up overlapping live traffic */
    if (prev <= s->last) {
        seq_pass(s, id, seed, seed_len, v1, v1_len);
        seq_flush(s);
        return;
    }
    struct held **p = &s->held;
    while (*p != NULL && (*p)->id < id)
        p = &(*p)->next;
    if (*p != NULL && (*p)->id == id)
        return;
    struct held *h = hb_xcalloc(1, sizeof(*h));
    h->id = id;
    h->prev = prev;
    h->seed = memdup(seed, seed_len);
    h->seed_len = seed_len;
    h->v1 = memdup(v1, v1_len);
    h->v1_len = v1_len;
    h->next = *p;
    *p = h;
    if (s->gap_since_ms == 0) {
        s->gap_since_ms = now_ms();
        pthread_cond_signal(&relay.wake);
    }
}

/* The insert runs inside write_lock, not the sequencers' lock: a loop that takes that one for a
 * join never waits on the database. */
void hb_app_relay_write_begin(void)
{
    pthread_mutex_lock(&relay.write_lock);
}

void hb_app_relay_write_end(void)
{
    pthread_mutex_unlock(&relay.write_lock);
}

/* ---- Redis messages ----
 * One text per event, fields separated by spaces, JSON payloads after a newline (compact JSON
 * has no raw newline):
 *   M <instance> <room> <id> <prev>\n<seed frame>\n<v1 frame>
 *   P <instance> <room> <headcount>
 *   G <instance> <room>
 *   B <instance> <event clock, 0: none>\n<bbs frame> */

static void redis_send(const char *head, const char *a, size_t a_len, const char *b, size_t b_len)
{
    if (relay.redis == NULL)
        return;
    struct hb_buf msg;
    hb_buf_init(&msg, (size_t)1024 * 1024);
    (void)hb_buf_append_str(&msg, head);
    if (a != NULL) {
        (void)hb_buf_append_char(&msg, '\n');
        (void)hb_buf_append(&msg, a, a_len);
    }
    if (b != NULL) {
        (void)hb_buf_append_char(&msg, '\n');
        (void)hb_buf_append(&msg, b, b_len);
    }
    hb_redis_publish(relay.redis, CHANNEL, msg.data, msg.len);
    hb_buf_release(&msg);
}

void hb_app_relay_message(int64_t room, int64_t id, int64_t prev, const struct hb_buf *seed,
                          const struct hb_buf *v1)
{
    pthread_mutex_lock(&relay.lock);
    sequence(room, id, prev, seed->data, seed->len, v1->data, v1->len);
    pthread_mutex_unlock(&relay.lock);
    char head[160];
    snprintf(head, sizeof(head), "M %s %lld %lld %lld", relay.instance, (long long)room,
             (long long)id, (long long)prev);
    redis_send(head, seed->data, seed->len, v1->data, v1->len);
}

void hb_app_relay_presence(int64_t room, int64_t headcount)
{
    hb_app_ws_deliver_presence(room, headcount);
    char head[160];
    snprintf(head, sizeof(head), "P %s %lld %lld", relay.instance, (long long)room,
             (long long)headcount);
    redis_send(head, NULL, 0, NULL, 0);
}

void hb_app_relay_room_gone(int64_t room)
{
    hb_app_ws_deliver_room_gone(room);
    char head[160];
    snprintf(head, sizeof(head), "G %s %lld", relay.instance, (long long)room);
    redis_send(head, NULL, 0, NULL, 0);
}

/* Offers BBS event seq to its sequencer (relay.lock held). Events of the event clock (seq > 0,
 * PostgreSQL) leave in clock order, which is commit order; seq n waits for n - 1. An event with
 * no clock value, or one that comes after its gap was given up on, goes out at once: late is
 * better than lost. */
static void bbs_offer(int64_t seq, const char *json, size_t len)
{
    struct seq *s = *seq_slot(BBS_SEQ_ROOM);
    if (seq <= 0 || s == NULL || seq <= s->last) {
        hb_app_ws_deliver_bbs(json, len);
        return;
    }
    sequence(BBS_SEQ_ROOM, seq, seq - 1, "", 0, json, len);
}

void hb_app_relay_bbs(const char *json, size_t len, int64_t seq)
{
    pthread_mutex_lock(&relay.lock);
    bbs_offer(seq, json, len);
    pthread_mutex_unlock(&relay.lock);
    char head[100];
    snprintf(head, sizeof(head), "B %s %lld", relay.instance, (long long)seq);
    redis_send(head, json, len, NULL, 0);
}

/* Parses "<word> " at *p into [word, word_len) and a following integer list. */
static bool next_word(const char **p, const char *end, struct hb_str *out)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    const char *w = s;
    while (s < end && *s != ' ' && *s != '\n')
        s++;
    *out = (struct hb_str){w, (size_t)(s - w)};
    *p = s;
    return s > w;
}

static bool next_int(const char **p, const char *end, int64_t *out)
{
    struct hb_str w;
    if (!next_word(p, end, &w) || w.len > 19)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < w.len; i++) {
        if (w.ptr[i] < '0' || w.ptr[i] > '9')
            return false;
        v = v * 10 + (w.ptr[i] - '0');
    }
    *out = v;
    return true;
}

static void on_redis_message(void *ctx, const char *channel, const char *data, size_t len)
{
    (void)ctx;
    (void)channel;
    const char *p = data, *end = data + len;
    struct hb_str kind, from;
    if (!next_word(&p, end, &kind) || kind.len != 1 || !next_word(&p, end, &from))
        goto bad;
    if (hb_str_eq(from, hb_str_from(relay.instance)))
        return; /* our own, already delivered */
    int64_t room = 0, a = 0, b = 0;
    switch (kind.ptr[0]) {
    case 'M': {
        if (!next_int(&p, end, &room) || !next_int(&p, end, &a) || !next_int(&p, end, &b) ||
            p >= end || *p != '\n')
            goto bad;
        const char *seed = p + 1;
        const char *nl = memchr(seed, '\n', (size_t)(end - seed));
        if (nl == NULL)
            goto bad;
        pthread_mutex_lock(&relay.lock);
        sequence(room, a, b, seed, (size_t)(nl - seed), nl + 1, (size_t)(end - nl - 1));
        pthread_mutex_unlock(&relay.lock);
        return;
    }
    case 'P':
        if (!next_int(&p, end, &room) || !next_int(&p, end, &a))
            goto bad;
        hb_app_ws_deliver_presence(room, a);
        return;
    case 'G':
        if (!next_int(&p, end, &room))
            goto bad;
        hb_app_ws_deliver_room_gone(room);
        return;
    case 'B':
        if (!next_int(&p, end, &a) || p >= end || *p != '\n')
            goto bad;
        pthread_mutex_lock(&relay.lock);
        bbs_offer(a, p + 1, (size_t)(end - p - 1));
        pthread_mutex_unlock(&relay.lock);
        return;
    default:
        break;
    }
bad:
    hb_log_warn("redis: ignored a malformed event (%zu bytes)", len);
}

static void on_redis_ready(void *ctx, bool is_reconnect)
{
    (void)ctx;
    if (!is_reconnect)
        return;
    /* Whatever was published while we were away is in the database: catch every room up. */
    pthread_mutex_lock(&relay.lock);
    for (int i = 0; i < N_SEQ_BUCKETS; i++) {
        for (struct seq *s = relay.buckets[i]; s != NULL; s = s->next)
            s->needs_catchup = true;
    }
    pthread_cond_signal(&relay.wake);
    pthread_mutex_unlock(&relay.lock);
}

/* ---- joins and leaves (relay.lock taken here) ---- */

void hb_app_relay_joined(int64_t room, int64_t last_id)
{
    pthread_mutex_lock(&relay.lock);
    struct seq **slot = seq_slot(room);
    if (*slot == NULL) {
        struct seq *s = hb_xcalloc(1, sizeof(*s));
        s->room = room;
        s->last = last_id;
        *slot = s;
    }
    (*slot)->n_local++;
    pthread_mutex_unlock(&relay.lock);
}

void hb_app_relay_left(int64_t room)
{
    pthread_mutex_lock(&relay.lock);
    struct seq **slot = seq_slot(room);
    struct seq *s = *slot;
    if (s != NULL && --s->n_local <= 0) {
        *slot = s->next;
        seq_free(s);
    }
    pthread_mutex_unlock(&relay.lock);
}

/* ---- the catch-up and heartbeat thread ---- */

struct caught {
    struct caught *next;
    int64_t id;
    char *seed, *v1;
    size_t seed_len, v1_len;
};

struct catchup {
    struct caught *head, *tail;
    int n;
};

static char *format_row(enum hb_store_chat_format format, const struct hb_store_chatlog *row,
                        size_t *len)
{
    struct hb_buf b;
    hb_buf_init(&b, (size_t)64 * 1024);
    char *out = NULL;
    if (hb_store_chatlog_write_json(&b, format, row) == 0) {
        out = memdup(b.data, b.len);
        *len = b.len;
    }
    hb_buf_release(&b);
    return out;
}

static int collect(void *ctx, const struct hb_store_chatlog *row)
{
    struct catchup *cu = ctx;
    struct caught *c = hb_xcalloc(1, sizeof(*c));
    c->id = row->id;
    c->seed = format_row(HB_STORE_CHAT_SEED, row, &c->seed_len);
    c->v1 = format_row(HB_STORE_CHAT_V1, row, &c->v1_len);
    if (cu->tail != NULL)
        cu->tail->next = c;
    else
        cu->head = c;
    cu->tail = c;
    cu->n++;
    return 0;
}

/* Reads room's messages after `after` and feeds them through its sequencer, in order. Returns
 * true when a full batch came back (there may be more). */
static bool catch_up(int64_t room, int64_t after)
{
    struct catchup cu = {0};
    int n = hb_store_chatlog_each(relay.reader, room, after, CATCHUP_BATCH, collect, &cu);
    if (n < 0)
        hb_log_warn("relay: catching up room %lld: %s", (long long)room, hb_strerror(n));
    pthread_mutex_lock(&relay.lock);
    int64_t prev = after;
    for (struct caught *c = cu.head, *next; c != NULL; c = next) {
        next = c->next;
        if (c->seed != NULL && c->v1 != NULL)
            sequence(room, c->id, prev, c->seed, c->seed_len, c->v1, c->v1_len);
        prev = c->id;
        free(c->seed);
        free(c->v1);
        free(c);
    }
    struct seq *s = *seq_slot(room);
    if (s != NULL && s->held != NULL && n >= 0 && n < CATCHUP_BATCH)
        seq_skip_gap(s); /* the database has nothing before the held ones: other rooms' ids */
    pthread_mutex_unlock(&relay.lock);
    return n == CATCHUP_BATCH;
}

static void beat(int64_t now)
{
    struct hb_store_conn *db = hb_store_writer(relay.app->store);
    int64_t reaped = 0, t = hb_clock_unix_us();
    (void)now;
    int err = hb_store_instance_beat(db, hb_app_instance(), t, t - relay.stale_ms * 1000, &reaped);
    if (err < 0)
        hb_log_warn("relay: instance heartbeat: %s", hb_strerror(err));
    else if (reaped > 0)
        hb_log_info("relay: gave back the seats of %lld stopped instance(s)", (long long)reaped);
}

static void *relay_main(void *arg)
{
    (void)arg;
    int64_t next_beat = now_ms() + relay.beat_ms;
    pthread_mutex_lock(&relay.lock);
    while (!relay.stop) {
        int64_t now = now_ms(), wake_at = next_beat;
        /* Pick one room due for a catch-up; loop until none is. */
        int64_t room = 0, after = 0;
        for (int i = 0; i < N_SEQ_BUCKETS && room == 0; i++) {
            for (struct seq *s = relay.buckets[i]; s != NULL; s = s->next) {
                bool gap_due = s->gap_since_ms != 0 && now - s->gap_since_ms >= GAP_WAIT_MS;
                if (s->room == BBS_SEQ_ROOM) {
                    /* BBS events are not stored: an overdue gap is given up on, and what was
                     * held behind it goes out in order. */
                    s->needs_catchup = false;
                    if (gap_due) {
                        seq_skip_gap(s);
                        if (s->held != NULL)
                            s->gap_since_ms = now; /* another gap: its own wait */
                    } else if (s->gap_since_ms != 0 && s->gap_since_ms + GAP_WAIT_MS < wake_at) {
                        wake_at = s->gap_since_ms + GAP_WAIT_MS;
                    }
                    continue;
                }
                if (s->needs_catchup || gap_due) {
                    s->needs_catchup = false;
                    s->gap_since_ms = s->held != NULL ? now : 0;
                    room = s->room;
                    after = s->last;
                    break;
                }
                if (s->gap_since_ms != 0 && s->gap_since_ms + GAP_WAIT_MS < wake_at)
                    wake_at = s->gap_since_ms + GAP_WAIT_MS;
            }
        }
        if (room != 0) {
            pthread_mutex_unlock(&relay.lock);
            bool more = catch_up(room, after);
            pthread_mutex_lock(&relay.lock);
            struct seq *s = *seq_slot(room);
            if (more && s != NULL)
                s->needs_catchup = true;
            continue;
        }
        if (now >= next_beat) {
            pthread_mutex_unlock(&relay.lock);
            beat(now);
            pthread_mutex_lock(&relay.lock);
            next_beat = now_ms() + relay.beat_ms;
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t wait_ms = wake_at - now;
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        (void)pthread_cond_timedwait(&relay.wake, &relay.lock, &until);
    }
    pthread_mutex_unlock(&relay.lock);
    return NULL;
}

static int64_t env_ms(const char *name, int64_t fallback)
{
    const char *v = getenv(name);
    char *end;
    long long n = v != NULL ? strtoll(v, &end, 10) : 0;
    return v != NULL && *end == '\0' && n > 0 && n <= 3600000 ? n : fallback;
}

int hb_app_relay_start(struct hb_app *app)
{
    unsigned char id[16] = {0};
    if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
        /* Unique enough among instances of one site: pid and start time. */
        uint64_t t = hb_clock_mono_ns() ^ ((uint64_t)getpid() << 32);
        memcpy(id, &t, sizeof(t));
    }
    for (size_t i = 0; i < sizeof(id); i++)
        snprintf(relay.instance + 2 * i, 3, "%02x", id[i]);
    relay.app = app;
    /* Tests shorten these to see a killed instance's seats come back within seconds. */
    relay.beat_ms = env_ms("HIROBA_INSTANCE_BEAT_MS", 2000);
    relay.stale_ms = env_ms("HIROBA_INSTANCE_STALE_MS", 5 * relay.beat_ms);
    struct hb_store_conn *db = hb_store_writer(app->store);
    /* One instance owns the database: sockets of a crashed run left stale counts (API.md §6.3).
     * With Redis, others may be running: their seats are kept and a dead one's are given back
     * by the heartbeat. */
    if (app->cfg.redis == NULL)
        (void)hb_store_room_reset_headcounts(db);
    beat(0);
    if (hb_store_reader_open(app->store, &relay.reader) < 0)
        relay.reader = db;
    int64_t clock = 0;
    if (strcmp(hb_store_backend_name(app->store), "postgres") == 0 &&
        hb_store_event_clock_read(db, &clock) == 0)
        hb_app_relay_joined(BBS_SEQ_ROOM, clock); /* BBS events from here on, in clock order */
    if (app->cfg.redis != NULL) {
        static const char *const channels[] = {CHANNEL};
        struct hb_redis_config rc = {.url = app->cfg.redis,
                                     .channels = channels,
                                     .n_channels = 1,
                                     .on_message = on_redis_message,
                                     .on_ready = on_redis_ready,
                                     .ctx = &relay};
        int err = hb_redis_start(&rc, &relay.redis);
        if (err < 0) {
            char shown[512];
            hb_log_error("redis '%s': %s",
                         hb_app_config_url_display(app->cfg.redis, shown, sizeof(shown)),
                         hb_strerror(err));
            return err;
        }
        hb_log_info("relay: instance %s publishes on redis channel %s", relay.instance, CHANNEL);
    }
    relay.stop = false;
    relay.is_running = pthread_create(&relay.thread, NULL, relay_main, NULL) == 0;
    return 0;
}

void hb_app_relay_stop(void)
{
    if (relay.is_running) {
        pthread_mutex_lock(&relay.lock);
        relay.stop = true;
        pthread_cond_signal(&relay.wake);
        pthread_mutex_unlock(&relay.lock);
        pthread_join(relay.thread, NULL);
        relay.is_running = false;
    }
    if (relay.redis != NULL) {
        hb_redis_stop(relay.redis);
        relay.redis = NULL;
    }
    if (relay.app != NULL) {
        struct hb_store_conn *db = hb_store_writer(relay.app->store);
        (void)hb_store_instance_leave(db, hb_app_instance());
        if (relay.reader != db)
            hb_store_reader_close(relay.reader);
    }
    relay.reader = NULL;
    for (int i = 0; i < N_SEQ_BUCKETS; i++) {
        for (struct seq *s = relay.buckets[i], *next; s != NULL; s = next) {
            next = s->next;
            seq_free(s);
        }
        relay.buckets[i] = NULL;
    }
}
