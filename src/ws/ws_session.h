/* SPDX-License-Identifier: MIT */
/* A WebSocket server session (ws layer), sans-I/O, over wslay's event API: the caller feeds it
 * the bytes read from the socket and writes out the bytes it queues; the session never touches a
 * socket or a timer. Received text and binary messages are reassembled (at most 64 KiB), text is
 * checked for UTF-8 as it arrives, pings are answered, and every RFC 6455 violation fails the
 * connection with the close code API.md §6.7 names. Outgoing data frames are refcounted shared
 * payloads (struct hb_ws_msg), framed once and queued to any number of sessions.
 *
 * Memory: an idle session holds one small struct (see hb_ws_session_memory()); wslay's context
 * (about 9 KiB) exists only while a frame or a fragmented message is in progress, and the
 * reassembly buffer only while a message spans several reads.
 *
 * Threads: a session belongs to one loop thread. Only hb_ws_msg_ref/unref may be called from
 * several threads at once on the same message. */
#ifndef HB_WS_SESSION_H
#define HB_WS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define HB_WS_MAX_MESSAGE_LEN ((size_t)64 * 1024) /* API.md §11, after reassembly */
#define HB_WS_MAX_CONTROL_LEN 125                 /* RFC 6455 §5.5 */
#define HB_WS_MAX_REASON_LEN  123 /* a close payload is a 2-byte code and the reason */

/* Close codes the server sends (API.md §6.7) and reports. */
enum hb_ws_close_code {
    HB_WS_CLOSE_NORMAL = 1000,
    HB_WS_CLOSE_GOING_AWAY = 1001,
    HB_WS_CLOSE_PROTOCOL_ERROR = 1002,
    HB_WS_CLOSE_UNSUPPORTED_DATA = 1003,
    HB_WS_CLOSE_ABNORMAL = 1006, /* never on the wire: the connection ended without a close */
    HB_WS_CLOSE_INVALID_DATA = 1007,
    HB_WS_CLOSE_TOO_BIG = 1009,
    HB_WS_CLOSE_INTERNAL_ERROR = 1011,
    HB_WS_CLOSE_TRY_AGAIN_LATER = 1013,
};

enum hb_ws_opcode {
    HB_WS_OP_TEXT = 0x1,
    HB_WS_OP_BINARY = 0x2,
    HB_WS_OP_PING = 0x9,
};

enum hb_ws_state {
    HB_WS_OPEN = 0, /* messages flow both ways */
    HB_WS_CLOSING,  /* the server sent a close and waits for the client's */
    HB_WS_CLOSED,   /* done: flush what is queued, then close the TCP connection */
};

/* ---- Shared payloads ---------------------------------------------------------------------- */

/* One complete server frame (header and payload), immutable once created and shared by
 * refcount: a chat message serialised once is queued to every socket of its room, and each
 * queued frame holds a reference until its last byte is written. */
struct hb_ws_msg;

/* Creates a frame of type op carrying a copy of data[0..len). The caller owns the one reference.
 * Text must be valid UTF-8 (not checked); a ping carries at most HB_WS_MAX_CONTROL_LEN bytes.
 * Aborts on out-of-memory. */
struct hb_ws_msg *hb_ws_msg_create(enum hb_ws_opcode op, const void *data, size_t len);

/* Adds a reference and returns msg. Thread-safe. */
struct hb_ws_msg *hb_ws_msg_ref(struct hb_ws_msg *msg);

/* Drops a reference; the last one frees msg. Thread-safe. NULL is ignored. */
void hb_ws_msg_unref(struct hb_ws_msg *msg);

/* The frame's size on the wire (header included): what queueing it adds to the byte count. */
size_t hb_ws_msg_frame_len(const struct hb_ws_msg *msg);

/* ---- Sessions ----------------------------------------------------------------------------- */

struct hb_ws_session;

/* A complete message: data[0..len) is valid only during the call and is not NUL-terminated.
 * Text is valid UTF-8. The callback may send, ping or close, but must not destroy the session. */
typedef void hb_ws_message_cb(struct hb_ws_session *s, const char *data, size_t len);

/* The session is done (state HB_WS_CLOSED). Runs once, from hb_ws_session_feed() or
 * hb_ws_session_abort(), never from hb_ws_session_destroy(): call abort before destroy when the
 * connection ends early and it always runs exactly once. code is the code of the close frame the
 * server sent (the client's code echoed, 1000 for a client close without one, 1002/1007/1009 for
 * a failure, or the app's own), or 1006 when the connection ended before the server sent one.
 * The callback must not destroy the session. */
typedef void hb_ws_close_cb(struct hb_ws_session *s, int code);

struct hb_ws_session_config {
    hb_ws_message_cb *on_text;   /* required */
    hb_ws_message_cb *on_binary; /* NULL: binary messages are dropped (API.md answers 1003) */
    hb_ws_close_cb *on_close;    /* may be NULL */
    void *user;                  /* returned by hb_ws_session_user() */
    size_t max_message_len;      /* 0 means HB_WS_MAX_MESSAGE_LEN */
};

/* Creates a session in state HB_WS_OPEN, right after the 101 was sent. cfg is copied. Allocates
 * only the session struct; aborts on out-of-memory. */
struct hb_ws_session *hb_ws_session_create(const struct hb_ws_session_config *cfg);

/* Frees the session, its wslay context and its queue (dropping the message references). Does not
 * run on_close. The caller must not be inside one of the session's callbacks, and must no longer
 * use output taken with hb_ws_session_take_output(). NULL is ignored. */
void hb_ws_session_destroy(struct hb_ws_session *s);

/* The cfg.user pointer. */
void *hb_ws_session_user(const struct hb_ws_session *s);

/* Processes data[0..len) received from the client, running the message callbacks; the bytes
 * are copied as needed, so data may be reused when this returns. Answers (pong, close) are
 * queued. Returns 0 while the session is open or closing; HB_ECLOSED once the close handshake
 * completed; or, sticky once the connection failed, HB_EPROTO (close 1002 or 1007 queued) or
 * HB_ETOOLARGE (1009). On any non-zero return the caller flushes the queue, then closes TCP;
 * further input is ignored and the same value returned. Not reentrant: never call it from a
 * callback. */
int hb_ws_session_feed(struct hb_ws_session *s, const void *data, size_t len);

/* Queues a reference to msg (a text or binary frame). Returns 0, or HB_ECLOSED once the server
 * sent a close (nothing queued). The caller keeps its own reference. Queue limits are the app's:
 * check hb_ws_session_queued_bytes()/_frames() and close with 1013 past them. */
int hb_ws_session_send_msg(struct hb_ws_session *s, struct hb_ws_msg *msg);

/* Queues a text frame with a copy of data[0..len), valid UTF-8. Returns 0 or HB_ECLOSED. */
int hb_ws_session_send_text(struct hb_ws_session *s, const char *data, size_t len);

/* Queues a ping carrying data[0..len), len <= HB_WS_MAX_CONTROL_LEN. Returns 0, HB_EINVAL or
 * HB_ECLOSED. */
int hb_ws_session_ping(struct hb_ws_session *s, const void *data, size_t len);

/* Starts the closing handshake: queues a close frame with code (1000-1003, 1007-1014 or
 * 3000-4999) and reason[0..reason_len) (UTF-8, at most HB_WS_MAX_REASON_LEN bytes) after the
 * frames already queued, and moves to HB_WS_CLOSING: further messages from the client are
 * ignored, and the client's close moves the session to HB_WS_CLOSED. The caller should drop the
 * connection if that close does not come within its deadline. Returns 0, HB_EINVAL, or
 * HB_ECLOSED when a close was already sent. */
int hb_ws_session_close(struct hb_ws_session *s, int code, const char *reason, size_t reason_len);

/* The TCP connection is gone (read error, EOF, timeout): moves to HB_WS_CLOSED and runs on_close
 * (1006, or the code the server already sent) unless it already ran. The queue is kept so output
 * still being written stays valid until hb_ws_session_destroy(). */
void hb_ws_session_abort(struct hb_ws_session *s);

enum hb_ws_state hb_ws_session_state(const struct hb_ws_session *s);

/* The sticky error: 0 while nothing failed, else what hb_ws_session_feed() returns for it. */
int hb_ws_session_error(const struct hb_ws_session *s);

/* The code of the close frame the server sent, or 0 if none was. */
int hb_ws_session_close_code(const struct hb_ws_session *s);

/* ---- Output ------------------------------------------------------------------------------- */

/* One piece of output, pointing into a queued frame. */
struct hb_ws_iov {
    const void *base;
    size_t len;
};

/* True when queued bytes are waiting to be taken. */
bool hb_ws_session_want_write(const struct hb_ws_session *s);

/* Takes the next queued bytes, in order, as at most max_iov pieces (no copy) and stores their
 * total in *len. Returns the number of pieces filled (0 when nothing is waiting). The bytes are
 * not returned again; they stay valid and counted as queued until hb_ws_session_written() covers
 * them. Several takes may be outstanding (writes complete in order). */
size_t hb_ws_session_take_output(struct hb_ws_session *s, struct hb_ws_iov *iov, size_t max_iov,
                                 size_t *len);

/* The first len taken bytes were written (or abandoned): frames fully written drop their
 * message references. len must not exceed the taken, unwritten total. */
void hb_ws_session_written(struct hb_ws_session *s, size_t len);

/* Copies every waiting byte into out and marks it written: take + copy + written in one call
 * (tests, simple callers); no take may be outstanding. Returns 0, or HB_ETOOLARGE with nothing
 * taken if out cannot hold it. */
int hb_ws_session_flush(struct hb_ws_session *s, struct hb_buf *out);

/* Bytes and frames queued and not yet written, taken or not (API.md §11: the app closes with 1013
 * past 1 MiB or 1024 frames). */
size_t hb_ws_session_queued_bytes(const struct hb_ws_session *s);
size_t hb_ws_session_queued_frames(const struct hb_ws_session *s);

/* Heap bytes this session holds now, shared payloads excluded: the struct, wslay's context while
 * it exists, the reassembly buffer and the queue entries. */
size_t hb_ws_session_memory(const struct hb_ws_session *s);

#endif
