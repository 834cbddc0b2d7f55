/* SPDX-License-Identifier: MIT */
/* WebSocket server session (ws layer) over wslay's event API, sans-I/O.
 *
 * Input runs through a small frame tracker that reads each frame header (2 to 14 bytes) before
 * wslay sees it. The tracker knows where frames begin and end, which lets the session free
 * wslay's 9 KiB context between messages, and it applies the RFC 6455 rules wslay answers
 * differently from API.md: a control frame over 125 bytes or fragmented gets 1002 (wslay sends a
 * close without a code), close frames are handled here (1000 for an empty close, 1002 for a
 * 1-byte payload or a bad code or reason), and the 64 KiB limit covers the whole message (wslay
 * checks single frames when it does not buffer). wslay sees only well-formed data and ping frames:
 * it unmasks them, validates UTF-8 as chunks arrive (fail-fast, 1007) and answers pings.
 *
 * Output never goes through wslay's copies: data frames are struct hb_ws_msg, framed once and
 * queued by reference; wslay's pongs are copied into a small message of their own. Every queue
 * entry is whole frames, so frames never interleave. */
#include "ws/ws_session.h"

#include <assert.h>
#include <stdatomic.h>
#include <string.h>
#include <wslay/wslay.h>

#include "core/alloc.h"
#include "core/err.h"

#define OP_CONT  0x0
#define OP_TEXT  0x1
#define OP_BIN   0x2
#define OP_CLOSE 0x8
#define OP_PING  0x9
#define OP_PONG  0xa

#define MAX_HEADER_LEN 10 /* a server frame: 2 + 8 length bytes, no mask */

/* heap bytes of one wslay event context with its frame context, measured with wslay 1.1.1 on
 * x86-64 (two 4 KiB buffers and the queues). Reported by hb_ws_session_memory() only. */
#define WSLAY_CTX_BYTES 9440

struct hb_ws_msg {
    atomic_size_t refcnt;
    size_t len; /* bytes of the frame */
    size_t off; /* the frame starts at bytes + off */
    unsigned char bytes[];
};

/* One queue entry: a whole frame, or several whole control frames from wslay. */
struct out_frame {
    struct out_frame *next;
    struct hb_ws_msg *msg; /* one reference */
    size_t n_frames;
};

struct hb_ws_session {
    struct hb_ws_session_config cfg;
    wslay_event_context_ptr ctx; /* NULL while idle */
    enum hb_ws_state state;
    int last_err;     /* sticky */
    int close_code;   /* of the close frame sent; 0 before */
    bool is_notified; /* on_close ran */
    bool in_wslay;    /* inside wslay_event_recv(): ctx must not be freed */

    /* The frame being received. */
    bool in_payload; /* header done, payload_left bytes to go */
    bool fin;
    uint8_t op;
    uint8_t hdr_len;  /* header bytes collected */
    uint8_t hdr_need; /* 2 until the first two bytes tell the full length */
    uint8_t hdr[14];
    uint8_t mask[4];
    uint8_t ctl_len; /* close payload collected, unmasked */
    uint8_t ctl[HB_WS_MAX_CONTROL_LEN];
    uint64_t payload_len;
    uint64_t payload_left;
    /* The message being received: its opcode (0: none) and its length so far. */
    uint8_t msg_op;
    uint64_t msg_len;

    /* wslay's recv callback reads from here; its send callback writes to stage. */
    const uint8_t *in_ptr;
    size_t in_len;
    uint8_t *stage;
    size_t stage_len;
    size_t stage_cap;

    /* Reassembly: a message that arrived as one chunk is delivered from wslay's buffer. */
    struct hb_buf reasm;
    const uint8_t *whole_ptr;
    size_t whole_len;
    bool has_whole;

    /* Output queue. cursor is the first entry not yet taken (NULL: all taken). */
    struct out_frame *head;
    struct out_frame *tail;
    struct out_frame *cursor;
    size_t head_written; /* bytes of head already written */
    size_t taken_bytes;  /* taken and not yet written */
    size_t queued_bytes;
    size_t queued_frames;
    size_t n_entries;
};

/* ---- Messages ----------------------------------------------------------------------------- */

static size_t frame_header(uint8_t hdr[MAX_HEADER_LEN], unsigned op, size_t len)
{
    hdr[0] = (uint8_t)(0x80 | op);
    if (len < 126) {
        hdr[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        hdr[1] = 126;
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        return 4;
    }
    hdr[1] = 127;
    for (int i = 0; i < 8; i++)
        hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

/* The header is written right before the payload, so the frame is one contiguous run. */
static struct hb_ws_msg *msg_new(unsigned op, const void *data, size_t len)
{
    uint8_t hdr[MAX_HEADER_LEN];
    size_t hdr_len = frame_header(hdr, op, len);

    assert(len <= SIZE_MAX / 2);
    struct hb_ws_msg *msg = hb_xmalloc(sizeof(*msg) + MAX_HEADER_LEN + len);
    atomic_init(&msg->refcnt, 1);
    msg->off = MAX_HEADER_LEN - hdr_len;
    msg->len = hdr_len + len;
    memcpy(msg->bytes + msg->off, hdr, hdr_len);
    if (len > 0)
        memcpy(msg->bytes + MAX_HEADER_LEN, data, len);
    return msg;
}

/* Bytes that are already whole frames (wslay's output). */
static struct hb_ws_msg *msg_raw(const void *data, size_t len)
{
    struct hb_ws_msg *msg = hb_xmalloc(sizeof(*msg) + len);
    atomic_init(&msg->refcnt, 1);
    msg->off = 0;
    msg->len = len;
    memcpy(msg->bytes, data, len);
    return msg;
}

struct hb_ws_msg *hb_ws_msg_create(enum hb_ws_opcode op, const void *data, size_t len)
{
    assert(op == HB_WS_OP_TEXT || op == HB_WS_OP_BINARY || op == HB_WS_OP_PING);
    assert(op != HB_WS_OP_PING || len <= HB_WS_MAX_CONTROL_LEN);
    return msg_new(op, data, len);
}

struct hb_ws_msg *hb_ws_msg_ref(struct hb_ws_msg *msg)
{
    atomic_fetch_add_explicit(&msg->refcnt, 1, memory_order_relaxed);
    return msg;
}

void hb_ws_msg_unref(struct hb_ws_msg *msg)
{
    if (msg != NULL && atomic_fetch_sub_explicit(&msg->refcnt, 1, memory_order_acq_rel) == 1)
        free(msg);
}

size_t hb_ws_msg_frame_len(const struct hb_ws_msg *msg)
{
    return msg->len;
}

/* ---- Output queue ------------------------------------------------------------------------- */

/* Takes over the caller's reference to msg. */
static void enqueue(struct hb_ws_session *s, struct hb_ws_msg *msg, size_t n_frames)
{
    struct out_frame *f = hb_xmalloc(sizeof(*f));
    f->next = NULL;
    f->msg = msg;
    f->n_frames = n_frames;
    if (s->tail != NULL)
        s->tail->next = f;
    else
        s->head = f;
    s->tail = f;
    if (s->cursor == NULL)
        s->cursor = f;
    s->queued_bytes += msg->len;
    s->queued_frames += n_frames;
    s->n_entries++;
}

static void queue_close(struct hb_ws_session *s, int code, const char *reason, size_t reason_len)
{
    uint8_t payload[HB_WS_MAX_CONTROL_LEN];

    assert(reason_len <= HB_WS_MAX_REASON_LEN);
    payload[0] = (uint8_t)(code >> 8);
    payload[1] = (uint8_t)code;
    if (reason_len > 0)
        memcpy(payload + 2, reason, reason_len);
    enqueue(s, msg_new(OP_CLOSE, payload, 2 + reason_len), 1);
    s->close_code = code;
}

bool hb_ws_session_want_write(const struct hb_ws_session *s)
{
    return s->cursor != NULL;
}

size_t hb_ws_session_take_output(struct hb_ws_session *s, struct hb_ws_iov *iov, size_t max_iov,
                                 size_t *len)
{
    size_t n = 0, total = 0;

    /* Entries are taken whole, so the cursor always sits at the start of one. */
    while (s->cursor != NULL && n < max_iov) {
        struct hb_ws_msg *msg = s->cursor->msg;
        iov[n].base = msg->bytes + msg->off;
        iov[n].len = msg->len;
        total += msg->len;
        n++;
        s->cursor = s->cursor->next;
    }
    s->taken_bytes += total;
    *len = total;
    return n;
}

void hb_ws_session_written(struct hb_ws_session *s, size_t len)
{
    assert(len <= s->taken_bytes);
    s->taken_bytes -= len;
    s->queued_bytes -= len;
    while (len > 0) {
        struct out_frame *f = s->head;
        assert(f != NULL && f != s->cursor); /* only taken bytes are written */
        size_t rest = f->msg->len - s->head_written;
        if (len < rest) {
            s->head_written += len;
            return;
        }
        len -= rest;
        s->head_written = 0;
        s->head = f->next;
        if (s->head == NULL)
            s->tail = NULL;
        s->queued_frames -= f->n_frames;
        s->n_entries--;
        hb_ws_msg_unref(f->msg);
        free(f);
    }
}

int hb_ws_session_flush(struct hb_ws_session *s, struct hb_buf *out)
{
    struct hb_ws_iov iov[16];
    size_t total = 0, len;

    assert(s->taken_bytes == 0);
    if (hb_buf_reserve(out, s->queued_bytes) < 0)
        return HB_ETOOLARGE;
    for (;;) {
        size_t n = hb_ws_session_take_output(s, iov, 16, &len);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            (void)hb_buf_append(out, iov[i].base, iov[i].len); /* reserved above */
        total += len;
    }
    hb_ws_session_written(s, total);
    return 0;
}

size_t hb_ws_session_queued_bytes(const struct hb_ws_session *s)
{
    return s->queued_bytes;
}

size_t hb_ws_session_queued_frames(const struct hb_ws_session *s)
{
    return s->queued_frames;
}

/* ---- State -------------------------------------------------------------------------------- */

static bool is_data_op(unsigned op)
{
    return op == OP_CONT || op == OP_TEXT || op == OP_BIN;
}

/* Codes a peer may put on the wire (RFC 6455 §7.4.1 and the IANA registry: 1012-1014 are
 * registered, 1004-1006 and 1015 never appear in a close frame). */
static bool close_code_is_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* Strict UTF-8 (RFC 3629): no overlongs, surrogates or code points past U+10FFFF. */
static bool utf8_is_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = p[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3fu);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

static void ctx_free(struct hb_ws_session *s)
{
    assert(!s->in_wslay);
    wslay_event_context_free(s->ctx);
    s->ctx = NULL;
    s->has_whole = false;
}

/* Fails the connection (RFC 6455 §7.1.7): queues a close with code unless one was already sent,
 * and stays closed with err. May run inside a wslay callback: ctx is freed once wslay returns. */
static void fail(struct hb_ws_session *s, int code, int err)
{
    if (s->state == HB_WS_CLOSED)
        return;
    if (s->state == HB_WS_OPEN)
        queue_close(s, code, NULL, 0);
    s->state = HB_WS_CLOSED;
    s->last_err = err;
}

static void notify_close(struct hb_ws_session *s)
{
    if (s->state != HB_WS_CLOSED || s->is_notified || s->in_wslay)
        return;
    s->is_notified = true;
    if (s->cfg.on_close != NULL)
        s->cfg.on_close(s, s->close_code != 0 ? s->close_code : HB_WS_CLOSE_ABNORMAL);
}

static int status(const struct hb_ws_session *s)
{
    if (s->state != HB_WS_CLOSED)
        return 0;
    return s->last_err != 0 ? s->last_err : HB_ECLOSED;
}

/* ---- wslay -------------------------------------------------------------------------------- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    struct hb_ws_session *s = user;
    (void)flags;

    if (s->in_len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < s->in_len ? len : s->in_len;
    memcpy(buf, s->in_ptr, n);
    s->in_ptr += n;
    s->in_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct hb_ws_session *s = user;
    size_t room = s->stage_cap - s->stage_len;
    (void)flags;

    if (room == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < room ? len : room;
    memcpy(s->stage + s->stage_len, data, n);
    s->stage_len += n;
    return (ssize_t)n;
}

static void chunk_cb(wslay_event_context_ptr ctx,
                     const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
    struct hb_ws_session *s = user;
    (void)ctx;

    if (s->state != HB_WS_OPEN || !is_data_op(s->op) || arg->data_length == 0)
        return;
    /* A one-frame message whose payload came in one chunk needs no copy: wslay's buffer holds it
     * until the message callback, in the same step of wslay_event_recv(). */
    if (s->op != OP_CONT && s->fin && s->reasm.len == 0 && arg->data_length == s->payload_len) {
        s->whole_ptr = arg->data;
        s->whole_len = arg->data_length;
        s->has_whole = true;
        return;
    }
    if (hb_buf_append(&s->reasm, arg->data, arg->data_length) < 0)
        fail(s, HB_WS_CLOSE_TOO_BIG, HB_ETOOLARGE); /* the tracker's limit makes this unreachable */
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    struct hb_ws_session *s = user;
    const char *data = "";
    size_t len = 0;
    (void)ctx;

    if (s->state != HB_WS_OPEN || (arg->opcode != OP_TEXT && arg->opcode != OP_BIN))
        return;
    if (s->has_whole) {
        data = (const char *)s->whole_ptr;
        len = s->whole_len;
    } else if (s->reasm.len > 0) {
        data = s->reasm.data;
        len = s->reasm.len;
    }
    s->has_whole = false;
    hb_ws_message_cb *cb = arg->opcode == OP_TEXT ? s->cfg.on_text : s->cfg.on_binary;
    if (cb != NULL)
        cb(s, data, len);
    /* Keep a small buffer for the next fragmented message, not a large one. */
    if (s->reasm.cap > 4096)
        hb_buf_release(&s->reasm);
    else
        hb_buf_reset(&s->reasm);
}

static int ctx_create(struct hb_ws_session *s)
{
    static const struct wslay_event_callbacks callbacks = {
        .recv_callback = recv_cb,
        .send_callback = send_cb,
        .on_frame_recv_chunk_callback = chunk_cb,
        .on_msg_recv_callback = msg_cb,
    };

    if (wslay_event_context_server_init(&s->ctx, &callbacks, s) != 0) {
        s->ctx = NULL;
        fail(s, HB_WS_CLOSE_INTERNAL_ERROR, HB_ENOMEM);
        return HB_ENOMEM;
    }
    /* Reassembly is ours (one capped buffer instead of a malloc per frame), so wslay's length
     * check sees single frames; the tracker checks whole messages. */
    wslay_event_config_set_no_buffering(s->ctx, 1);
    wslay_event_config_set_max_recv_msg_length(s->ctx, s->cfg.max_message_len);
    return 0;
}

/* Moves what wslay queued (pongs, or its close after a UTF-8 failure) into the output queue. */
static void drain(struct hb_ws_session *s)
{
    uint8_t stage[256];

    while (wslay_event_want_write(s->ctx)) {
        size_t before = wslay_event_get_queued_msg_count(s->ctx);
        s->stage = stage;
        s->stage_len = 0;
        s->stage_cap = sizeof(stage);
        int r = wslay_event_send(s->ctx);
        size_t n_frames = before - wslay_event_get_queued_msg_count(s->ctx);
        if (s->stage_len > 0)
            enqueue(s, msg_raw(stage, s->stage_len), n_frames);
        if (r != 0 || s->stage_len == 0)
            break;
    }
    s->stage = NULL;
    s->stage_cap = s->stage_len = 0;
}

/* Hands p[0..n), bytes of the current frame, to wslay. */
static void wslay_pass(struct hb_ws_session *s, const uint8_t *p, size_t n)
{
    if (s->ctx == NULL && ctx_create(s) < 0)
        return;
    s->in_ptr = p;
    s->in_len = n;
    s->in_wslay = true;
    int r = wslay_event_recv(s->ctx);
    s->in_wslay = false;
    s->in_ptr = NULL;
    s->in_len = 0;
    if (s->state != HB_WS_OPEN) {
        /* The app closed, or a callback failed the session: nothing more goes to wslay, and its
         * queued pongs must not follow our close frame. */
        ctx_free(s);
        return;
    }
    if (r != 0) {
        /* Out of memory, or a framing error the tracker did not catch: wslay's close (without a
         * code) is dropped and ours sent. */
        if (r == WSLAY_ERR_NOMEM)
            fail(s, HB_WS_CLOSE_INTERNAL_ERROR, HB_ENOMEM);
        else
            fail(s, HB_WS_CLOSE_PROTOCOL_ERROR, HB_EPROTO);
        ctx_free(s);
        return;
    }
    drain(s);
    if (!wslay_event_get_read_enabled(s->ctx)) {
        /* wslay failed the connection (the tracker leaves it only UTF-8 to find: 1007) and its
         * close frame is queued now. */
        if (wslay_event_get_close_sent(s->ctx)) {
            s->close_code = wslay_event_get_status_code_sent(s->ctx);
            s->state = HB_WS_CLOSED;
            s->last_err = s->close_code == HB_WS_CLOSE_TOO_BIG ? HB_ETOOLARGE : HB_EPROTO;
        } else {
            fail(s, HB_WS_CLOSE_PROTOCOL_ERROR, HB_EPROTO);
        }
        ctx_free(s);
    }
}

/* ---- Frame tracker ------------------------------------------------------------------------ */

/* Checks the first two header bytes (RFC 6455 §5.2, §5.4, §5.5): fails the session and returns
 * false on a violation. */
static bool check_first_bytes(struct hb_ws_session *s)
{
    uint8_t b0 = s->hdr[0], b1 = s->hdr[1];
    unsigned op = b0 & 0x0fu, len7 = b1 & 0x7fu;
    bool fin = (b0 & 0x80) != 0;
    bool ok = (b0 & 0x70) == 0    /* no extension was negotiated */
              && (b1 & 0x80) != 0 /* client frames are masked */
              && (is_data_op(op) || op == OP_CLOSE || op == OP_PING || op == OP_PONG);

    if (ok && op >= OP_CLOSE)
        ok = fin && len7 <= HB_WS_MAX_CONTROL_LEN;
    else if (ok && op == OP_CONT)
        ok = s->msg_op != 0;
    else if (ok)
        ok = s->msg_op == 0;
    if (!ok) {
        fail(s, HB_WS_CLOSE_PROTOCOL_ERROR, HB_EPROTO);
        return false;
    }
    s->op = (uint8_t)op;
    s->fin = fin;
    s->hdr_need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
    return true;
}

static void handle_close(struct hb_ws_session *s)
{
    int code = HB_WS_CLOSE_NORMAL;

    if (s->state == HB_WS_CLOSING) {
        s->state = HB_WS_CLOSED; /* the answer to our close */
        return;
    }
    if (s->ctl_len == 1) {
        fail(s, HB_WS_CLOSE_PROTOCOL_ERROR, HB_EPROTO);
        return;
    }
    if (s->ctl_len >= 2) {
        code = s->ctl[0] << 8 | s->ctl[1];
        if (!close_code_is_valid(code) || !utf8_is_valid(s->ctl + 2, s->ctl_len - 2u)) {
            fail(s, HB_WS_CLOSE_PROTOCOL_ERROR, HB_EPROTO);
            return;
        }
    }
    /* RFC 6455 §5.5.1: echo the status code; a close without one is answered with 1000. */
    queue_close(s, code, NULL, 0);
    s->state = HB_WS_CLOSED;
}

static void end_frame(struct hb_ws_session *s)
{
    s->in_payload = false;
    if (s->op == OP_CLOSE) {
        handle_close(s);
    } else if (is_data_op(s->op) && s->fin) {
        s->msg_op = 0;
        s->msg_len = 0;
    }
}

/* The header is complete: checks the length, then routes the frame. */
static void start_frame(struct hb_ws_session *s)
{
    unsigned len7 = s->hdr[1] & 0x7fu;
    uint64_t len = len7;
    size_t off = 2;

    if (len7 == 126) {
        len = (uint64_t)s->hdr[2] << 8 | s->hdr[3];
        off = 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | s->hdr[2 + i];
        off = 10;
    }
    /* §5.2: the minimal number of bytes must be used, and the most significant bit is 0. */
    if ((len7 == 126 && len < 126) || (len7 == 127 && (len <= 0xffff || len >> 63 != 0))) {
        fail(s, HB_WS_CLOSE_PROTOCOL_ERROR, HB_EPROTO);
        return;
    }
    if (is_data_op(s->op)) {
        if (s->op != OP_CONT) {
            s->msg_op = s->op;
            s->msg_len = 0;
        }
        /* Fail fast, before the payload arrives. */
        if (len > s->cfg.max_message_len - s->msg_len) {
            fail(s, HB_WS_CLOSE_TOO_BIG, HB_ETOOLARGE);
            return;
        }
        s->msg_len += len;
    }
    memcpy(s->mask, s->hdr + off, 4);
    s->payload_len = s->payload_left = len;
    s->ctl_len = 0;
    s->in_payload = true;
    if (s->state == HB_WS_OPEN && (is_data_op(s->op) || s->op == OP_PING))
        wslay_pass(s, s->hdr, s->hdr_len);
    s->hdr_len = 0;
    s->hdr_need = 2;
    if (s->payload_left == 0 && s->state != HB_WS_CLOSED)
        end_frame(s);
}

static void frame_payload(struct hb_ws_session *s, const uint8_t *p, size_t n)
{
    if (s->op == OP_CLOSE) {
        size_t pos = (size_t)(s->payload_len - s->payload_left);
        for (size_t i = 0; i < n; i++)
            s->ctl[s->ctl_len + i] = p[i] ^ s->mask[(pos + i) % 4];
        s->ctl_len = (uint8_t)(s->ctl_len + n);
    } else if (s->state == HB_WS_OPEN && (is_data_op(s->op) || s->op == OP_PING)) {
        wslay_pass(s, p, n);
    }
    /* Otherwise skipped: pongs carry nothing we need, and once our close is sent the client's
     * messages are ignored. */
}

int hb_ws_session_feed(struct hb_ws_session *s, const void *data, size_t len)
{
    const uint8_t *p = data, *end = p + len;

    assert(!s->in_wslay);
    while (p < end && s->state != HB_WS_CLOSED) {
        if (!s->in_payload) {
            size_t n = (size_t)(s->hdr_need - s->hdr_len);
            if (n > (size_t)(end - p))
                n = (size_t)(end - p);
            memcpy(s->hdr + s->hdr_len, p, n);
            s->hdr_len = (uint8_t)(s->hdr_len + n);
            p += n;
            if (s->hdr_len < s->hdr_need)
                break;
            if (s->hdr_len == 2) {
                if (check_first_bytes(s))
                    continue; /* hdr_need now covers the whole header */
                break;
            }
            start_frame(s);
            continue;
        }
        size_t n = (size_t)(end - p);
        if (n > s->payload_left)
            n = (size_t)s->payload_left;
        frame_payload(s, p, n);
        p += n;
        s->payload_left -= n;
        if (s->payload_left == 0 && s->state != HB_WS_CLOSED)
            end_frame(s);
    }
    /* Idle between messages: give back wslay's context and the reassembly buffer. */
    if (s->ctx != NULL && (s->state != HB_WS_OPEN || (!s->in_payload && s->msg_op == 0)))
        ctx_free(s);
    if (s->ctx == NULL && s->msg_op == 0)
        hb_buf_release(&s->reasm);
    notify_close(s);
    return status(s);
}

/* ---- Sessions ----------------------------------------------------------------------------- */

struct hb_ws_session *hb_ws_session_create(const struct hb_ws_session_config *cfg)
{
    struct hb_ws_session *s = hb_xcalloc(1, sizeof(*s));

    s->cfg = *cfg;
    if (s->cfg.max_message_len == 0)
        s->cfg.max_message_len = HB_WS_MAX_MESSAGE_LEN;
    s->state = HB_WS_OPEN;
    s->hdr_need = 2;
    hb_buf_init(&s->reasm, s->cfg.max_message_len);
    return s;
}

void hb_ws_session_destroy(struct hb_ws_session *s)
{
    if (s == NULL)
        return;
    assert(!s->in_wslay);
    wslay_event_context_free(s->ctx);
    hb_buf_release(&s->reasm);
    while (s->head != NULL) {
        struct out_frame *f = s->head;
        s->head = f->next;
        hb_ws_msg_unref(f->msg);
        free(f);
    }
    free(s);
}

void *hb_ws_session_user(const struct hb_ws_session *s)
{
    return s->cfg.user;
}

int hb_ws_session_send_msg(struct hb_ws_session *s, struct hb_ws_msg *msg)
{
    if (s->state != HB_WS_OPEN)
        return HB_ECLOSED;
    enqueue(s, hb_ws_msg_ref(msg), 1);
    return 0;
}

int hb_ws_session_send_text(struct hb_ws_session *s, const char *data, size_t len)
{
    if (s->state != HB_WS_OPEN)
        return HB_ECLOSED;
    enqueue(s, msg_new(OP_TEXT, data, len), 1);
    return 0;
}

int hb_ws_session_ping(struct hb_ws_session *s, const void *data, size_t len)
{
    if (len > HB_WS_MAX_CONTROL_LEN)
        return HB_EINVAL;
    if (s->state != HB_WS_OPEN)
        return HB_ECLOSED;
    enqueue(s, msg_new(OP_PING, data, len), 1);
    return 0;
}

int hb_ws_session_close(struct hb_ws_session *s, int code, const char *reason, size_t reason_len)
{
    if (!close_code_is_valid(code) || reason_len > HB_WS_MAX_REASON_LEN ||
        (reason_len > 0 && !utf8_is_valid((const uint8_t *)reason, reason_len)))
        return HB_EINVAL;
    if (s->state != HB_WS_OPEN)
        return HB_ECLOSED;
    queue_close(s, code, reason, reason_len);
    s->state = HB_WS_CLOSING;
    if (s->ctx != NULL && !s->in_wslay)
        ctx_free(s);
    return 0;
}

void hb_ws_session_abort(struct hb_ws_session *s)
{
    s->state = HB_WS_CLOSED;
    notify_close(s);
}

enum hb_ws_state hb_ws_session_state(const struct hb_ws_session *s)
{
    return s->state;
}

int hb_ws_session_error(const struct hb_ws_session *s)
{
    return s->last_err;
}

int hb_ws_session_close_code(const struct hb_ws_session *s)
{
    return s->close_code;
}

size_t hb_ws_session_memory(const struct hb_ws_session *s)
{
    return sizeof(*s) + (s->ctx != NULL ? WSLAY_CTX_BYTES : 0) +
           (s->reasm.data != NULL ? s->reasm.cap + 1 : 0) + s->n_entries * sizeof(struct out_frame);
}
