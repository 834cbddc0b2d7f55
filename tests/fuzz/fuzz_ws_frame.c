/* SPDX-License-Identifier: MIT */
/* Fuzz target: arbitrary client bytes through a WebSocket server session (ws_session over
 * wslay). The first two input bytes choose how the rest is split into reads, how output is
 * written (whole or in short writes) and what the app does from its callbacks (echo through a
 * shared payload, close, abort). Oracles: delivered text is valid UTF-8 and within the limit, the
 * server's output is well-formed unmasked frames with nothing after a close, on_close runs once
 * exactly when the session is closed, and the queue counters add up. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ws/ws_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

enum {
    F_ECHO = 1,        /* echo every message back through one shared payload */
    F_CLOSE = 2,       /* close (4400) from the first text callback */
    F_SHORT = 4,       /* write output in short pieces */
    F_ABORT = 8,       /* after half the input: abort, or close if the split seed is odd */
    F_PING = 16,       /* the server pings between reads */
    F_SMALL_MAX = 32,  /* a 100-byte message limit instead of 64 KiB */
    F_HOLD_TAKE = 64,  /* keep one take outstanding across reads */
    F_SEND_MANY = 128, /* queue a burst from a callback */
};

static struct {
    unsigned flags;
    int n_close;
    int close_code;
    size_t max_len;
    struct hb_ws_msg *shared;
} app;

/* Strict UTF-8, written independently of the session's own check. */
static bool utf8_ok(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i], need, cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            need = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            need = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (need > len - i - 1)
            return false;
        for (unsigned k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += need + 1;
    }
    return true;
}

static void on_message(struct hb_ws_session *s, const char *data, size_t len, bool is_text)
{
    CHECK(len <= app.max_len);
    CHECK(len == 0 || data != NULL);
    if (is_text)
        CHECK(utf8_ok((const unsigned char *)data, len));
    CHECK(hb_ws_session_state(s) == HB_WS_OPEN);
    if (app.flags & F_ECHO)
        CHECK(hb_ws_session_send_msg(s, app.shared) == 0);
    if (app.flags & F_SEND_MANY) {
        for (int i = 0; i < 8; i++)
            CHECK(hb_ws_session_send_text(s, data, len < 50 ? len : 50) == 0);
    }
    if (is_text && (app.flags & F_CLOSE))
        CHECK(hb_ws_session_close(s, 4400, "bad frame", 9) == 0);
}

static void on_text(struct hb_ws_session *s, const char *data, size_t len)
{
    on_message(s, data, len, true);
}

static void on_binary(struct hb_ws_session *s, const char *data, size_t len)
{
    on_message(s, data, len, false);
}

static void on_close(struct hb_ws_session *s, int code)
{
    CHECK(hb_ws_session_state(s) == HB_WS_CLOSED);
    app.n_close++;
    app.close_code = code;
}

/* Checks that out[0..len) continues a stream of whole server frames; *after_close is set once a
 * close frame went by, after which nothing may follow. Frames may span calls: *pending holds the
 * bytes of a partial frame (at most 14 header bytes matter; payload bytes are skipped). */
struct out_check {
    uint8_t hdr[10];
    size_t hdr_len;
    uint64_t skip;
    bool after_close;
};

static void check_output(struct out_check *oc, const uint8_t *p, size_t len)
{
    while (len > 0) {
        if (oc->skip > 0) {
            size_t n = len < oc->skip ? len : (size_t)oc->skip;
            p += n, len -= n, oc->skip -= n;
            continue;
        }
        CHECK(!oc->after_close);
        oc->hdr[oc->hdr_len++] = *p++, len--;
        if (oc->hdr_len < 2)
            continue;
        unsigned len7 = oc->hdr[1] & 0x7f;
        size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
        if (oc->hdr_len < need)
            continue;
        unsigned op = oc->hdr[0] & 0x0f;
        CHECK((oc->hdr[0] & 0xf0) == 0x80); /* FIN, no RSV */
        CHECK((oc->hdr[1] & 0x80) == 0);    /* never masked */
        CHECK(op == 0x1 || op == 0x2 || op == 0x8 || op == 0x9 || op == 0xa);
        uint64_t plen = len7;
        if (len7 == 126)
            plen = (uint64_t)oc->hdr[2] << 8 | oc->hdr[3];
        else if (len7 == 127)
            for (int i = 0; i < 8; i++)
                plen = (i == 0 ? 0 : plen << 8) | oc->hdr[2 + i];
        if (op >= 0x8)
            CHECK(plen <= 125);
        if (op == 0x8) {
            CHECK(plen >= 2);
            oc->after_close = true;
        }
        oc->skip = plen;
        oc->hdr_len = 0;
    }
}

/* Output taken but not yet written, as a write in flight would be: its bytes must stay valid and
 * unchanged while more frames are queued behind it. */
static struct {
    struct hb_ws_iov iov[8];
    size_t n_iov;
    size_t len;
    unsigned char *copy;
} held;

static void hold_output(struct hb_ws_session *s, struct out_check *oc)
{
    held.n_iov = hb_ws_session_take_output(s, held.iov, 8, &held.len);
    if (held.n_iov == 0)
        return;
    held.copy = malloc(held.len);
    CHECK(held.copy != NULL);
    for (size_t i = 0, pos = 0; i < held.n_iov; pos += held.iov[i].len, i++) {
        check_output(oc, held.iov[i].base, held.iov[i].len);
        memcpy(held.copy + pos, held.iov[i].base, held.iov[i].len);
    }
}

static void release_held(struct hb_ws_session *s)
{
    for (size_t i = 0, pos = 0; i < held.n_iov; pos += held.iov[i].len, i++)
        CHECK(memcmp(held.iov[i].base, held.copy + pos, held.iov[i].len) == 0);
    if (held.len > 0)
        hb_ws_session_written(s, held.len);
    free(held.copy);
    memset(&held, 0, sizeof(held));
}

static void write_out(struct hb_ws_session *s, struct out_check *oc)
{
    struct hb_ws_iov iov[8];
    size_t len;

    release_held(s);
    while (hb_ws_session_want_write(s)) {
        size_t queued = hb_ws_session_queued_bytes(s);
        size_t n = hb_ws_session_take_output(s, iov, (app.flags & F_SHORT) ? 1 : 8, &len);
        CHECK(n > 0 && len > 0 && len <= queued);
        for (size_t i = 0; i < n; i++)
            check_output(oc, iov[i].base, iov[i].len);
        if (app.flags & F_SHORT) {
            for (size_t done = 0; done < len; done += 3)
                hb_ws_session_written(s, len - done < 3 ? len - done : 3);
        } else {
            hb_ws_session_written(s, len);
        }
    }
    CHECK(hb_ws_session_queued_bytes(s) == 0);
    CHECK(hb_ws_session_queued_frames(s) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    memset(&app, 0, sizeof(app));
    app.flags = data[0];
    unsigned split_seed = data[1];
    data += 2, size -= 2;
    app.max_len = (app.flags & F_SMALL_MAX) ? 100 : HB_WS_MAX_MESSAGE_LEN;
    app.shared = hb_ws_msg_create(HB_WS_OP_TEXT, "{\"id\":1}", 8);

    struct hb_ws_session_config cfg = {.on_text = on_text,
                                       .on_binary = on_binary,
                                       .on_close = on_close,
                                       .max_message_len = (app.flags & F_SMALL_MAX) ? 100 : 0};
    struct hb_ws_session *s = hb_ws_session_create(&cfg);
    struct out_check oc = {{0}, 0, 0, false};
    size_t off = 0;
    unsigned rng = split_seed * 2654435761u + 1;
    int err = 0;

    while (off < size) {
        rng = rng * 1103515245u + 12345u;
        /* Mostly small reads, sometimes everything left. */
        size_t n = split_seed == 0 ? size - off : 1 + (rng >> 16) % (split_seed < 128 ? 8 : 600);
        if (n > size - off)
            n = size - off;
        int prev = err;
        err = hb_ws_session_feed(s, data + off, n);
        off += n;
        if (prev != 0)
            CHECK(err == prev); /* sticky */
        CHECK((err != 0) == (hb_ws_session_state(s) == HB_WS_CLOSED));
        CHECK(app.n_close == (hb_ws_session_state(s) == HB_WS_CLOSED ? 1 : 0));
        CHECK(err == 0 || err == HB_ECLOSED || err == HB_EPROTO || err == HB_ETOOLARGE ||
              err == HB_ENOMEM);
        if ((app.flags & F_PING) && hb_ws_session_state(s) == HB_WS_OPEN)
            CHECK(hb_ws_session_ping(s, "hb", 2) == 0);
        if ((app.flags & F_HOLD_TAKE) && held.n_iov == 0)
            hold_output(s, &oc);
        else
            write_out(s, &oc);
        if ((app.flags & F_ABORT) && off >= size / 2) {
            if (split_seed & 1) {
                /* The app closes from outside the callbacks (a slow consumer), once. */
                app.flags &= ~(unsigned)F_ABORT;
                bool was_open = hb_ws_session_state(s) == HB_WS_OPEN;
                CHECK(hb_ws_session_close(s, 1013, "slow", 4) == (was_open ? 0 : HB_ECLOSED));
                continue;
            }
            hb_ws_session_abort(s);
            CHECK(app.n_close == 1);
            break;
        }
    }
    write_out(s, &oc);
    if (hb_ws_session_state(s) == HB_WS_CLOSED && !(app.flags & F_ABORT))
        CHECK(hb_ws_session_close_code(s) != 0 && app.close_code == hb_ws_session_close_code(s));
    hb_ws_session_destroy(s);
    hb_ws_msg_unref(app.shared);
    return 0;
}
