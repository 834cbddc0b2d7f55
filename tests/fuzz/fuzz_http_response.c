/* SPDX-License-Identifier: MIT */
/* Fuzz target for the client-side HTTP response parser (src/client/http_client.c): arbitrary
 * bytes as a stream of responses, fed the way the load generator feeds them (parse, take each
 * complete response, go on; at the end the peer closes). Each input runs as a GET and as a HEAD
 * stream, whole and split at a point derived from the input, and the split run must see exactly
 * the same responses as the whole one: a streaming parser must not care where reads end. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RESPONSES 64

struct outcome {
    int n;
    int status[MAX_RESPONSES];
    uint64_t body_len[MAX_RESPONSES];
    bool keep_alive[MAX_RESPONSES];
    uint64_t body_bytes; /* through the body sink */
    bool failed;
    int finish;
};

static void count_body(void *ctx, const char *at, size_t len)
{
    struct outcome *o = ctx;
    (void)at;
    o->body_bytes += len;
}

static void take(struct hb_http_client *c, struct outcome *o)
{
    if (o->n < MAX_RESPONSES) {
        o->status[o->n] = c->status;
        o->body_len[o->n] = c->body_len;
        o->keep_alive[o->n] = c->is_keep_alive;
    }
    o->n++;
    hb_http_client_next(c);
}

static void feed(struct hb_http_client *c, struct outcome *o, const char *buf, size_t len)
{
    size_t pos = 0;
    while (pos < len && !o->failed) {
        int used = hb_http_client_parse(c, buf + pos, len - pos);
        if (used < 0) {
            o->failed = true;
            return;
        }
        if (used == 0 && !c->is_complete)
            abort(); /* the contract: every call makes progress */
        pos += (size_t)used;
        if (c->is_complete)
            take(c, o);
    }
}

static void run(const char *buf, size_t size, size_t cut, bool is_head, struct outcome *o)
{
    struct hb_http_client c;
    memset(o, 0, sizeof(*o));
    hb_http_client_init(&c, is_head);
    c.on_body = count_body;
    c.ctx = o;
    feed(&c, o, buf, cut);
    feed(&c, o, buf + cut, size - cut);
    o->finish = hb_http_client_finish(&c);
    if (o->finish == 0 && c.is_complete)
        take(&c, o);
}

static uint32_t hash(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t cut = size > 0 ? hash(data, size) % (size + 1) : 0;
    for (int is_head = 0; is_head <= 1; is_head++) {
        struct outcome whole, split;
        run(buf, size, size, is_head, &whole);
        run(buf, size, cut, is_head, &split);
        if (memcmp(&whole, &split, sizeof(whole)) != 0)
            abort();
        uint64_t sum = 0;
        for (int i = 0; i < whole.n && i < MAX_RESPONSES; i++) {
            if (whole.status[i] < 0 || whole.status[i] > 999)
                abort();
            if (whole.status[i] >= 100 && whole.status[i] < 200 && whole.status[i] != 101)
                abort(); /* interim responses are never handed out */
            sum += whole.body_len[i];
            if (is_head && whole.body_len[i] != 0)
                abort();
        }
        if (whole.n <= MAX_RESPONSES && sum > whole.body_bytes)
            abort();
    }
    return 0;
}
