/* SPDX-License-Identifier: MIT */
/* The RFC 6455 opening handshake (ws layer): the checks of API.md §6.1 in their order, the
 * subprotocol modes of §6.2, and Sec-WebSocket-Accept from OpenSSL's SHA-1 and base64. Every
 * result slice points into the caller's header values; nothing is allocated or logged. */
#include "ws/ws_handshake.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>

#include "core/err.h"

/* RFC 6455 §1.3. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* Calls fn on each non-empty, OWS-trimmed element of a comma-separated list (RFC 9110 §5.6.1
 * allows empty elements, which are skipped). Stops early when fn returns true. */
static bool list_find(struct hb_str list, bool (*fn)(struct hb_str item, void *arg), void *arg)
{
    size_t start = 0;

    for (size_t i = 0; i <= list.len; i++) {
        if (i < list.len && list.ptr[i] != ',')
            continue;
        struct hb_str item = hb_str_trim_ows((struct hb_str){list.ptr + start, i - start});
        start = i + 1;
        if (item.len > 0 && fn(item, arg))
            return true;
    }
    return false;
}

static bool item_ieq(struct hb_str item, void *arg)
{
    const struct hb_str *token = arg;
    return hb_str_ieq(item, *token);
}

static bool list_has_token(struct hb_str list, const char *token)
{
    struct hb_str want = hb_str_from(token);
    return list.ptr != NULL && list_find(list, item_ieq, &want);
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* A key is the canonical base64 of 16 bytes (RFC 6455 §4.1): 22 alphabet characters, the last of
 * which carries only 2 bits of data, then "==". */
static bool key_is_valid(struct hb_str key)
{
    if (key.len != 24 || key.ptr[22] != '=' || key.ptr[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        if (b64_value(key.ptr[i]) < 0)
            return false;
    }
    return (b64_value(key.ptr[21]) & 0x0f) == 0;
}

/* The subprotocol offer, gathered in one pass over every entry. */
struct offer {
    struct hb_str first;        /* the first entry */
    struct hb_str first_non_v1; /* the first entry other than hiroba.v1 */
    bool has_v1;
};

static bool offer_add(struct hb_str item, void *arg)
{
    struct offer *offer = arg;

    if (offer->first.ptr == NULL)
        offer->first = item;
    if (hb_str_eq_lit(item, HB_WS_PROTOCOL_V1))
        offer->has_v1 = true;
    else if (offer->first_non_v1.ptr == NULL)
        offer->first_non_v1 = item;
    return false;
}

/* The echoed value goes back into a response header: only visible ASCII may be copied there,
 * whatever the HTTP parser let through. A real token never has anything else. */
static bool is_header_safe(struct hb_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c < 0x21 || c > 0x7e)
            return false;
    }
    return true;
}

static int reject(struct hb_ws_handshake *hs, int status, const char *name, const char *value)
{
    hs->status = status;
    hs->reject_header_name = name;
    hs->reject_header_value = value;
    return status == 403 ? HB_EPERM : HB_EPROTO;
}

int hb_ws_handshake_check(const struct hb_ws_handshake_request *req, struct hb_ws_handshake *hs)
{
    memset(hs, 0, sizeof(*hs));
    if (!list_has_token(req->upgrade, "websocket") || !list_has_token(req->connection, "upgrade"))
        return reject(hs, 426, "Upgrade", "websocket");
    if (req->version.ptr == NULL || !hb_str_eq_lit(hb_str_trim_ows(req->version), "13"))
        return reject(hs, 426, "Sec-WebSocket-Version", "13");
    struct hb_str key = hb_str_trim_ows(req->key);
    if (!hb_str_eq_lit(req->method, "GET") || req->key.ptr == NULL || !key_is_valid(key))
        return reject(hs, 400, NULL, NULL);

    struct offer offer = {HB_STR_NULL, HB_STR_NULL, false};
    for (size_t i = 0; i < req->n_protocols; i++) {
        if (req->protocols[i].ptr != NULL)
            list_find(req->protocols[i], offer_add, &offer);
    }
    if (offer.has_v1) {
        hs->mode = HB_WS_MODE_V1;
        hs->token = offer.first_non_v1;
        hs->protocol = HB_STR(HB_WS_PROTOCOL_V1);
    } else {
        hs->mode = HB_WS_MODE_SEED;
        hs->token = offer.first;
        hs->protocol = offer.first;
    }
    if (hs->token.ptr == NULL || !is_header_safe(hs->protocol))
        return reject(hs, 403, NULL, NULL);
    if (hb_ws_handshake_accept(key, hs->accept) < 0)
        return HB_EIO;
    hs->status = 101;
    return 0;
}

int hb_ws_handshake_accept(struct hb_str key, char out[HB_WS_ACCEPT_LEN + 1])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
             EVP_DigestUpdate(md, key.ptr, key.len) == 1 &&
             EVP_DigestUpdate(md, ws_guid, sizeof(ws_guid) - 1) == 1 &&
             EVP_DigestFinal_ex(md, digest, &digest_len) == 1;

    EVP_MD_CTX_free(md);
    if (!ok || digest_len != 20)
        return HB_EIO;
    /* EVP_EncodeBlock writes 4 * ceil(20 / 3) = 28 characters and a NUL. */
    if (EVP_EncodeBlock((unsigned char *)out, digest, (int)digest_len) != HB_WS_ACCEPT_LEN)
        return HB_EIO;
    return 0;
}

int hb_ws_handshake_write_response(const struct hb_ws_handshake *hs, struct hb_buf *out)
{
    static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\n"
                               "Connection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: ";
    static const char proto[] = "\r\nSec-WebSocket-Protocol: ";
    size_t len = sizeof(head) - 1 + HB_WS_ACCEPT_LEN + sizeof(proto) - 1 + hs->protocol.len + 4;

    if (hb_buf_reserve(out, len) < 0)
        return HB_ETOOLARGE;
    /* The reservation makes every append below succeed. */
    (void)hb_buf_append(out, head, sizeof(head) - 1);
    (void)hb_buf_append(out, hs->accept, HB_WS_ACCEPT_LEN);
    (void)hb_buf_append(out, proto, sizeof(proto) - 1);
    (void)hb_buf_append(out, hs->protocol.ptr, hs->protocol.len);
    (void)hb_buf_append(out, "\r\n\r\n", 4);
    return 0;
}
