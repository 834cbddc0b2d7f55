/* SPDX-License-Identifier: MIT */
/* The RFC 6455 opening handshake, server side (ws layer), sans-I/O: it takes the values of the
 * request headers that matter, decides per API.md §6.1/§6.2 whether the upgrade may go on, picks
 * the subprotocol mode and the token, and writes the 101 response head. It knows nothing about
 * the HTTP server: the caller passes plain header values, so this header needs no http/ type.
 * Authentication and the room check happen in the caller, after hb_ws_handshake_check().
 * The token is a credential: nothing here logs it, and callers must not either. */
#ifndef HB_WS_HANDSHAKE_H
#define HB_WS_HANDSHAKE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/str.h"

/* The subprotocol that marks a v1 client (API.md §6.2). */
#define HB_WS_PROTOCOL_V1 "hiroba.v1"

/* Length of a Sec-WebSocket-Accept value: base64 of a 20-byte SHA-1. */
#define HB_WS_ACCEPT_LEN 28

enum hb_ws_mode {
    HB_WS_MODE_SEED = 0, /* hiroba.v1 not offered: the stack's frames only [compat] */
    HB_WS_MODE_V1,       /* hiroba.v1 offered: typed frames too [hiroba] */
};

/* The request, as header values. A NULL slice (ptr == NULL) means the header is absent. All
 * slices are borrowed and must stay valid as long as the hb_ws_handshake filled from them. */
struct hb_ws_handshake_request {
    struct hb_str method;     /* as sent, e.g. "GET" */
    struct hb_str upgrade;    /* Upgrade */
    struct hb_str connection; /* Connection */
    struct hb_str version;    /* Sec-WebSocket-Version */
    struct hb_str key;        /* Sec-WebSocket-Key */
    /* Every Sec-WebSocket-Protocol header value, in the order received (a client may send the
     * header more than once; each value is itself a comma-separated list). */
    const struct hb_str *protocols;
    size_t n_protocols;
};

/* The decision. */
struct hb_ws_handshake {
    /* 101 when the upgrade may proceed (after the caller's auth and room checks), otherwise the
     * HTTP status to answer with an empty body: 426, 400 or 403. */
    int status;
    /* For a 426, the one header the answer must carry ("Upgrade" / "websocket", or
     * "Sec-WebSocket-Version" / "13"); NULL otherwise. Static strings. */
    const char *reject_header_name;
    const char *reject_header_value;
    enum hb_ws_mode mode;
    /* The access token offered in the subprotocol list (never empty when status is 101). A slice
     * of the request's header values: valid as long as they are. A credential: never log it. */
    struct hb_str token;
    /* The Sec-WebSocket-Protocol value of the 101: in seed mode the first entry byte for byte (so
     * it is the token too), in v1 mode "hiroba.v1". Same lifetime as token. */
    struct hb_str protocol;
    char accept[HB_WS_ACCEPT_LEN + 1]; /* Sec-WebSocket-Accept, NUL-terminated */
};

/* Checks req in API.md §6.1's order: not an upgrade (Upgrade lacks "websocket" or Connection
 * lacks "upgrade") → 426 + Upgrade: websocket; Sec-WebSocket-Version missing or not 13 → 426 +
 * Sec-WebSocket-Version: 13; method not GET, or Sec-WebSocket-Key missing or not the base64 of
 * 16 bytes → 400; no subprotocol offered, or v1 mode with no entry besides hiroba.v1 → 403.
 * Returns 0 and fills hs with status 101, the mode, token, protocol and accept value; or returns
 * HB_EPROTO (426, 400) or HB_EPERM (403) with hs->status and the reject header set. */
int hb_ws_handshake_check(const struct hb_ws_handshake_request *req, struct hb_ws_handshake *hs);

/* Computes the Sec-WebSocket-Accept value for key (RFC 6455 §4.2.2: base64 of the SHA-1 of the
 * key followed by the protocol GUID) into out, NUL-terminated. Returns 0, or HB_EIO if OpenSSL
 * fails. */
int hb_ws_handshake_accept(struct hb_str key, char out[HB_WS_ACCEPT_LEN + 1]);

/* Appends the whole "HTTP/1.1 101 Switching Protocols" response head for an accepted hs (status
 * 101), blank line included: Upgrade, Connection, Sec-WebSocket-Accept and
 * Sec-WebSocket-Protocol. Returns 0, or HB_ETOOLARGE with out unchanged. */
int hb_ws_handshake_write_response(const struct hb_ws_handshake *hs, struct hb_buf *out);

#endif
