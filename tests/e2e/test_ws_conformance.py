# SPDX-License-Identifier: MIT
"""RFC 6455 conformance of the chat WebSocket (API.md §6, limits §11) over raw sockets.

The Autobahn|Testsuite case groups 1 to 7 adapted to a chat server (a valid text frame is a JSON
chat message that comes back as a broadcast, not an echo), plus a slow consumer and headcount
after many abrupt disconnects. Each case prints one verdict line (run pytest with -s to see
them); every test asserts that all its cases passed."""
import json
import os
import random
import re
import socket
import struct
import threading
import time

import requests

PW = "correct horse 1"
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
MAX_MSG = 64 * 1024

CONT, TEXT, BIN, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


# --- setup helpers (as in test_ws.py) -------------------------------------------------------------

def user(s, name):
    r = requests.post(s.url + "/api/register/", json={
        "username": name, "password": PW, "password_confirm": PW})
    assert r.status_code == 201, r.text
    return requests.post(s.url + "/api/token/", json={"username": name, "password": PW}).json()


def db_path(s):
    return s.db[len("sqlite:///"):]


def make_room(s, name="lobby"):
    return s.sql("INSERT INTO chat_room (created_at, name, headcount) VALUES "
                 "('2025-01-01 00:00:00', ?, 0) RETURNING id", (name,))[0][0]


def headcount(s, room):
    return s.sql("SELECT headcount FROM chat_room WHERE id = ?", (room,))[0][0]


def chatlog_count(s, room):
    return s.sql("SELECT COUNT(*) FROM chat_chatlog WHERE room_id = ?", (room,))[0][0]


# --- frame builder and reader ---------------------------------------------------------------------

def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
    """One client frame: rsv is a 3-bit value (RSV1 = 4, RSV2 = 2, RSV3 = 1); length overrides the
    length field (the payload is still what is sent)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i & 3] for i, c in enumerate(payload))


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


def chat(msg):
    return json.dumps({"message": msg}, ensure_ascii=False).encode()


def padded_chat(size, word="pad"):
    """A JSON chat message of exactly size bytes: word followed by spaces (trimmed by the
    server), so the stored message is word."""
    body = chat(word)
    assert len(body) <= size
    return body[:-2] + b" " * (size - len(body)) + b'"}'


class Closed(Exception):
    pass


class WS:
    """A raw client socket after a successful handshake."""

    def __init__(self, server, token, room, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect((server.host, server.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        req = ("GET /ws/chat/%d/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: %s\r\n\r\n" % (room, KEY, token))
        self.sock.sendall(req.encode())
        while b"\r\n\r\n" not in self.buf:
            b = self.sock.recv(4096)
            if not b:
                raise Closed("closed during handshake: %r" % self.buf)
            self.buf += b
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        head = head.decode("latin-1")
        assert head.startswith("HTTP/1.1 101"), head
        assert "Sec-WebSocket-Accept: " + ACCEPT in head, head

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, *a, **kw):
        self.sock.sendall(frame(*a, **kw))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.time()
            if left <= 0:
                raise socket.timeout("timed out with %d of %d bytes" % (len(self.buf), n))
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(65536)
            except ConnectionResetError:
                b = b""
            if not b:
                raise Closed("TCP closed with %r buffered" % self.buf[:64])
            self.buf += b

    def read_frame(self, timeout=5.0):
        """(fin, rsv, opcode, payload) of the next server frame; server frames must be unmasked."""
        deadline = time.time() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "server frame is masked"
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload

    def read_chat(self, timeout=5.0):
        fin, rsv, op, p = self.read_frame(timeout)
        assert (fin, rsv, op) == (True, 0, TEXT), "expected a chat text frame, got op %d %r" % (
            op, p[:80])
        obj = json.loads(p.decode("utf-8"))
        assert list(obj) == ["id", "message", "created_at"], obj
        return obj

    def expect_pong(self, payload, timeout=5.0):
        fin, rsv, op, p = self.read_frame(timeout)
        assert (fin, rsv, op) == (True, 0, PONG), "expected a pong, got op %d %r" % (op, p[:80])
        assert p == payload, "pong payload %r != ping payload %r" % (p[:40], payload[:40])

    def expect_close(self, code, timeout=5.0, answer=True):
        """The next frame must be a close with code; answers it, then the server must close TCP."""
        fin, rsv, op, p = self.read_frame(timeout)
        assert (fin, rsv, op) == (True, 0, CLOSE), "expected close %d, got op %d %r" % (
            code, op, p[:80])
        got = struct.unpack("!H", p[:2])[0] if len(p) >= 2 else None
        assert got == code, "close code %r, expected %d (payload %r)" % (got, code, p)
        p[2:].decode("utf-8")  # a reason, if any, is UTF-8
        if answer:
            try:
                self.send_frame(CLOSE, close_payload(code))
            except OSError:
                pass
        self.expect_eof()
        return p

    def expect_eof(self, timeout=5.0):
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            assert left > 0, "server did not close TCP"
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(65536)
            except ConnectionResetError:
                return
            except socket.timeout:
                continue
            if not b:
                return
            self.buf += b
            assert False, "unexpected bytes after close: %r" % self.buf[:80]

    def expect_silence(self, timeout=0.3):
        try:
            f = self.read_frame(timeout)
        except socket.timeout:
            return
        assert False, "unexpected frame %r" % (f,)

    def close(self):
        self.sock.close()


class Suite:
    """Runs cases against one server/room/token, printing and collecting verdicts."""

    def __init__(self, server, name):
        self.server = server
        self.token = user(server, name)["access"]
        self.room = make_room(server, name + "-room")
        self.verdicts = []

    def ws(self, **kw):
        return WS(self.server, self.token, self.room, **kw)

    def case(self, cid, title, fn):
        ws = self.ws()
        try:
            fn(ws)
            verdict = "OK"
        except Exception as e:  # noqa: BLE001 -- a verdict, not a crash
            verdict = "FAILED: %s: %s" % (type(e).__name__, e)
        finally:
            ws.close()
        line = "case %s %s: %s" % (cid, title, verdict)
        print(line)
        self.verdicts.append((cid, title, verdict))

    def check(self):
        bad = [v for v in self.verdicts if v[2] != "OK"]
        assert not bad, "\n".join("case %s %s: %s" % v for v in bad)
        # The server survived every case.
        assert requests.get(self.server.url + "/healthz", timeout=5).status_code == 200


def echo_then_close(s, ws, msg, code):
    """A chat frame followed in the same write by a close (or a protocol error): the message is
    stored; its echo may precede the close frame or not (once the server has sent its close it
    sends no more data frames, RFC 6455 §5.5.1), and nothing else may."""
    f = ws.read_frame()
    if f[2] == TEXT:
        assert json.loads(f[3])["message"] == msg, f
    else:
        ws.buf = frame(f[2], f[3], mask=False) + ws.buf  # push the frame back
    ws.expect_close(code)
    for _ in range(50):  # the store job may finish after the close
        if chatlog_count(s.server, s.room) and message_stored(s.server, s.room, msg):
            return
        time.sleep(0.05)
    assert False, "%r was not stored" % msg


def message_stored(server, room, msg):
    return server.sql("SELECT COUNT(*) FROM chat_chatlog WHERE room_id = ? AND message = ?",
                      (room, msg))[0][0] == 1


def sends_chat(body, expect_msg):
    def fn(ws):
        ws.send_frame(TEXT, body)
        got = ws.read_chat()
        assert got["message"] == expect_msg, got
        ws.send_frame(CLOSE)
        ws.expect_close(1000, answer=False)
    return fn


def fails_with(code, *frames_, raw=None):
    def fn(ws):
        try:
            for f in frames_:
                ws.send(f)
            if raw is not None:
                ws.send(raw)
        except OSError:
            pass  # the server may already have failed the connection
        ws.expect_close(code)
    return fn


# --- 1 framing ------------------------------------------------------------------------------------

def test_1_framing(server):
    s = Suite(server, "framing")
    s.case("1.1.1", "text frame, payload length 0 (not JSON) -> 4400",
           fails_with(4400, frame(TEXT, b"")))
    for n in (20, 125):
        s.case("1.1.2.%d" % n, "chat message in 7-bit length %d" % n,
               sends_chat(padded_chat(n, "L%d" % n), "L%d" % n))
    for n in (126, 127, 128, 1000, 65535):
        s.case("1.1.3.%d" % n, "chat message in 16-bit length %d" % n,
               sends_chat(padded_chat(n, "L%d" % n), "L%d" % n))
    s.case("1.1.4.65536", "chat message in 64-bit length 65536 (= 64 KiB limit)",
           sends_chat(padded_chat(65536, "L65536"), "L65536"))
    s.case("1.1.5.65537", "chat message of 65537 bytes in one frame -> 1009",
           fails_with(1009, frame(TEXT, padded_chat(65537))))
    s.case("1.1.6", "64-bit length 2^32 declared, payload never sent -> 1009",
           fails_with(1009, frame(TEXT, b"", length=1 << 32)[:14]))
    s.case("1.1.7", "message over 64 KiB across 2 fragments -> 1009",
           fails_with(1009, frame(TEXT, b'{"message":"x' + b" " * 40000, fin=False),
                      frame(CONT, b" " * 30000 + b'"}')))

    def byte_by_byte_ok(ws):
        body = padded_chat(300, "slow")
        for b in frame(TEXT, body):
            ws.send(bytes([b]))
        assert ws.read_chat()["message"] == "slow"
    s.case("1.1.8", "chat frame (16-bit length) sent one byte per TCP write", byte_by_byte_ok)

    def many_in_one_write(ws):
        sent = ["burst %d" % i for i in range(20)]
        ws.send(b"".join(frame(TEXT, chat(m)) for m in sent))
        got = [ws.read_chat() for _ in sent]
        ids = [g["id"] for g in got]
        assert ids == sorted(ids) and len(set(ids)) == 20, ids
        # Every message exactly once, stored and numbered in the order this socket sent them.
        assert [g["message"] for g in got] == sent, got
        ws.expect_silence()
    s.case("1.1.9", "20 chat frames in one TCP write, each echoed once in id order", many_in_one_write)
    s.case("1.2.1", "binary frame -> 1003", fails_with(1003, frame(BIN, b"\x00\x01\x02")))
    s.case("1.2.2", "empty binary frame -> 1003", fails_with(1003, frame(BIN, b"")))
    s.case("1.2.3", "binary frame 65535 bytes -> 1003",
           fails_with(1003, frame(BIN, b"\xfe" * 65535)))
    s.case("1.3.1", "unmasked client text frame -> 1002",
           fails_with(1002, frame(TEXT, chat("x"), mask=False)))
    s.case("1.3.2", "unmasked client ping -> 1002", fails_with(1002, frame(PING, b"", mask=False)))
    s.case("1.3.3", "64-bit length with the most significant bit set -> 1002",
           fails_with(1002, frame(TEXT, b"", length=1 << 63)[:14]))
    s.case("1.4.1", "text frame that is not JSON -> 4400", fails_with(4400, frame(TEXT, b"hello")))
    s.case("1.4.2", "JSON that is not an object -> 4400", fails_with(4400, frame(TEXT, b"[1,2]")))
    s.case("1.4.3", "JSON object without message -> 4400",
           fails_with(4400, frame(TEXT, b'{"msg":"x"}')))

    def invalid_message_dropped(ws):
        ws.send_frame(TEXT, chat("x" * 201))
        ws.send_frame(TEXT, chat("   "))
        ws.send_frame(TEXT, chat("after"))
        assert ws.read_chat()["message"] == "after"  # the two invalid ones sent nothing
    s.case("1.4.4", "invalid messages (201 chars, blank) are silently dropped (seed mode)",
           invalid_message_dropped)
    s.case("1.4.5", "200-char message (multi-byte) stored",
           sends_chat(chat("あ" * 200), "あ" * 200))
    s.check()


# --- 2 ping/pong ----------------------------------------------------------------------------------

def test_2_ping_pong(server):
    s = Suite(server, "pingpong")

    def ping(payload):
        def fn(ws):
            ws.send_frame(PING, payload)
            ws.expect_pong(payload)
            ws.send_frame(CLOSE)
            ws.expect_close(1000, answer=False)
        return fn
    s.case("2.1", "ping without payload -> pong without payload", ping(b""))
    s.case("2.2", "ping with small text payload", ping(b"Hello, world!"))
    s.case("2.3", "ping with small binary payload", ping(bytes([0x00, 0xff, 0xfe, 0xfd, 0x80])))
    s.case("2.4", "ping with 125-byte binary payload", ping(bytes(range(125))))
    s.case("2.5", "ping with 126-byte payload -> 1002", fails_with(1002, frame(PING, b"x" * 126)))

    def unsolicited_pong(ws):
        ws.send_frame(PONG, b"")
        ws.send_frame(PONG, b"unsolicited")
        ws.expect_silence()
        ws.send_frame(TEXT, chat("still open"))
        assert ws.read_chat()["message"] == "still open"
    s.case("2.6", "unsolicited pongs (empty and with payload) are ignored", unsolicited_pong)

    def pong_then_ping(ws):
        ws.send_frame(PONG, b"unsolicited")
        ws.send_frame(PING, b"after pong")
        ws.expect_pong(b"after pong")
    s.case("2.7", "unsolicited pong, then ping -> pong", pong_then_ping)

    def ten_pings(ws):
        ws.send(b"".join(frame(PING, b"ping %d" % i) for i in range(10)))
        for i in range(10):
            ws.expect_pong(b"ping %d" % i)
    s.case("2.8", "10 pings in one write -> 10 pongs in order", ten_pings)

    def ping_bytewise(ws):
        for b in frame(PING, b"bytewise"):
            ws.send(bytes([b]))
        ws.expect_pong(b"bytewise")
    s.case("2.9", "ping sent one byte per TCP write", ping_bytewise)
    s.case("2.10", "fragmented ping (FIN=0) -> 1002",
           fails_with(1002, frame(PING, b"frag", fin=False), frame(CONT, b"ment")))
    s.case("2.11", "126-byte pong -> 1002", fails_with(1002, frame(PONG, b"x" * 126)))
    s.check()


# --- 3 reserved bits ------------------------------------------------------------------------------

def test_3_reserved_bits(server):
    s = Suite(server, "rsv")
    s.case("3.1", "text frame with RSV1 -> 1002", fails_with(1002, frame(TEXT, chat("x"), rsv=4)))
    s.case("3.2", "text frame with RSV2 -> 1002", fails_with(1002, frame(TEXT, chat("x"), rsv=2)))

    def valid_then_rsv3(ws):
        ws.send(frame(TEXT, chat("rsv before")) + frame(TEXT, chat("x"), rsv=1) +
                frame(PING, b"after"))
        echo_then_close(s, ws, "rsv before", 1002)  # no pong for the ping after the bad frame
    s.case("3.3", "valid chat, then RSV3 text, then ping -> chat stored, 1002, no pong",
           valid_then_rsv3)
    s.case("3.4", "ping with RSV1+RSV3 -> 1002", fails_with(1002, frame(PING, b"p", rsv=5)))
    s.case("3.5", "binary frame with RSV1+RSV2 -> 1002",
           fails_with(1002, frame(BIN, b"\x00", rsv=6)))
    s.case("3.6", "close with RSV1+RSV2+RSV3 -> 1002",
           fails_with(1002, frame(CLOSE, close_payload(1000), rsv=7)))
    s.case("3.7", "continuation with RSV2 inside a fragmented text -> 1002",
           fails_with(1002, frame(TEXT, b'{"message":', fin=False),
                      frame(CONT, b'"x"}', rsv=2)))
    s.check()


# --- 4 opcodes ------------------------------------------------------------------------------------

def test_4_opcodes(server):
    s = Suite(server, "opcodes")
    for op in (3, 4, 5, 6, 7):
        s.case("4.1.%d" % op, "reserved data opcode %d -> 1002" % op,
               fails_with(1002, frame(op, b"")))

    def chat_then_reserved(op):
        def fn(ws):
            msg = "before op %d" % op
            ws.send(frame(TEXT, chat(msg)) + frame(op, b"reserved") + frame(PING, b""))
            echo_then_close(s, ws, msg, 1002)
        return fn
    s.case("4.1.8", "chat, reserved data opcode 5 with payload, ping -> chat stored, 1002",
           chat_then_reserved(5))
    for op in (0xB, 0xC, 0xD, 0xE, 0xF):
        s.case("4.2.%d" % op, "reserved control opcode 0x%X -> 1002" % op,
               fails_with(1002, frame(op, b"")))
    s.case("4.2.16", "chat, reserved control opcode 0xB with payload, ping -> chat stored, 1002",
           chat_then_reserved(0xB))
    s.check()


# --- 5 fragmentation ------------------------------------------------------------------------------

def test_5_fragmentation(server):
    s = Suite(server, "frag")
    s.case("5.1", "ping fragmented into 2 frames -> 1002",
           fails_with(1002, frame(PING, b"frag", fin=False), frame(CONT, b"ment")))
    s.case("5.2", "pong fragmented into 2 frames -> 1002",
           fails_with(1002, frame(PONG, b"frag", fin=False), frame(CONT, b"ment")))

    def frags(parts, expect):
        def fn(ws):
            ws.send(b"".join(frame(TEXT if i == 0 else CONT, p, fin=i == len(parts) - 1)
                             for i, p in enumerate(parts)))
            assert ws.read_chat()["message"] == expect
        return fn
    s.case("5.3", "text fragmented in 2 frames",
           frags([b'{"message":"frag', b'mented"}'], "fragmented"))
    body = chat("many fragments")
    s.case("5.4", "text fragmented in %d one-byte frames" % len(body),
           frags([body[i:i + 1] for i in range(len(body))], "many fragments"))
    s.case("5.5", "text in 3 fragments, empty first and last",
           frags([b"", body, b""], "many fragments"))

    def interleaved_pings(ws):
        parts = [body[:5], body[5:10], body[10:]]
        ws.send_frame(TEXT, parts[0], fin=False)
        ws.send_frame(PING, b"one")
        ws.expect_pong(b"one")
        ws.send_frame(CONT, parts[1], fin=False)
        ws.send_frame(PING, b"two")
        ws.expect_pong(b"two")
        ws.send_frame(CONT, parts[2], fin=True)
        assert ws.read_chat()["message"] == "many fragments"
    s.case("5.6", "pings between fragments are answered in place", interleaved_pings)

    def interleaved_one_write(ws):
        ws.send(frame(TEXT, body[:7], fin=False) + frame(PING, b"mid") +
                frame(PONG, b"unsolicited") + frame(CONT, body[7:]))
        ws.expect_pong(b"mid")
        assert ws.read_chat()["message"] == "many fragments"
    s.case("5.7", "ping and pong between fragments in one TCP write", interleaved_one_write)

    def bytewise_fragments(ws):
        data = (frame(TEXT, body[:9], fin=False) + frame(PING, b"p") +
                frame(CONT, body[9:], fin=True))
        for b in data:
            ws.send(bytes([b]))
        ws.expect_pong(b"p")
        assert ws.read_chat()["message"] == "many fragments"
    s.case("5.8", "fragments and an interleaved ping sent byte by byte", bytewise_fragments)
    s.case("5.9", "continuation (FIN=1) without a start -> 1002",
           fails_with(1002, frame(CONT, chat("x"))))
    s.case("5.10", "continuation (FIN=0) without a start -> 1002",
           fails_with(1002, frame(CONT, b'{"message":', fin=False), frame(CONT, b'"x"}')))
    s.case("5.11", "new text frame while a fragmented text is open -> 1002",
           fails_with(1002, frame(TEXT, b'{"message":', fin=False), frame(TEXT, chat("x"))))
    s.case("5.12", "new fragmented text while one is open -> 1002",
           fails_with(1002, frame(TEXT, b'{"message":', fin=False),
                      frame(TEXT, b'{"message":', fin=False), frame(CONT, b'"x"}')))
    s.case("5.13", "binary frame while a fragmented text is open -> 1002",
           fails_with(1002, frame(TEXT, b'{"message":', fin=False), frame(BIN, b"\x00")))
    s.case("5.14", "fragmented binary message -> 1003 (binary is refused)",
           fails_with(1003, frame(BIN, b"\x00", fin=False), frame(CONT, b"\x01")))

    def chat_after_fragmented(ws):
        frags([b'{"message":"one', b'"}'], "one")(ws)
        ws.send_frame(TEXT, chat("two"))
        assert ws.read_chat()["message"] == "two"
        frags([b'{"mess', b'age":"thr', b'ee"}'], "three")(ws)
    s.case("5.15", "fragmented, whole, fragmented messages in a row", chat_after_fragmented)
    s.check()


# --- 6 UTF-8 --------------------------------------------------------------------------------------

INVALID_UTF8 = [
    ("lone continuation byte 0x80", b"\x80"),
    ("0xFE", b"\xfe"),
    ("0xFF", b"\xff"),
    ("overlong '/' (C0 AF)", b"\xc0\xaf"),
    ("overlong NUL (C0 80)", b"\xc0\x80"),
    ("overlong 3-byte (E0 80 AF)", b"\xe0\x80\xaf"),
    ("overlong 4-byte (F0 80 80 AF)", b"\xf0\x80\x80\xaf"),
    ("UTF-16 surrogate U+D800 (ED A0 80)", b"\xed\xa0\x80"),
    ("UTF-16 surrogate U+DFFF (ED BF BF)", b"\xed\xbf\xbf"),
    ("above U+10FFFF (F4 90 80 80)", b"\xf4\x90\x80\x80"),
    ("5-byte sequence (F8 88 80 80 80)", b"\xf8\x88\x80\x80\x80"),
    ("truncated 3-byte sequence then ASCII", b"\xe3\x81A"),
    ("truncated 2-byte sequence at the end", b"\xce"),
    ("κόσμε then a surrogate (Autobahn 6.3)",
     b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"),
]


def test_6_utf8(server):
    s = Suite(server, "utf8")
    for i, text in enumerate(["κόσμε", "こんにちは世界", "😀🎉𝄞", "a\u00e9\u20ac\U0001F600z",
                              "\U0010FFFF\u007f\u0080\u07ff\u0800\uffff\U00010000"]):
        s.case("6.1.%d" % (i + 1), "valid multi-byte chat message %r" % text,
               sends_chat(chat(text), text))

    def split_char(text, cut):
        def fn(ws):
            body = chat(text)
            ws.send_frame(TEXT, body[:cut], fin=False)
            ws.send_frame(CONT, body[cut:])
            assert ws.read_chat()["message"] == text
        return fn
    body = chat("😀x")
    s.case("6.2.1", "4-byte char split 1+3 across fragments", split_char("😀x", 13))
    s.case("6.2.2", "4-byte char split 2+2 across fragments", split_char("😀x", 14))
    s.case("6.2.3", "4-byte char split 3+1 across fragments", split_char("😀x", 15))
    s.case("6.2.4", "3-byte char split 1+2 across fragments", split_char("あx", 13))

    def bytewise_frags(ws):
        text = "κόσμε😀"
        b = chat(text)
        ws.send(b"".join(frame(TEXT if i == 0 else CONT, b[i:i + 1], fin=i == len(b) - 1)
                         for i in range(len(b))))
        assert ws.read_chat()["message"] == text
    s.case("6.2.5", "multi-byte message in one-byte fragments", bytewise_frags)
    for i, (title, bad) in enumerate(INVALID_UTF8):
        s.case("6.3.%d" % (i + 1), "invalid UTF-8 in a chat frame: %s -> 1007" % title,
               fails_with(1007, frame(TEXT, b'{"message":"' + bad + b'"}')))
        s.case("6.4.%d" % (i + 1), "invalid UTF-8 as a whole frame: %s -> 1007" % title,
               fails_with(1007, frame(TEXT, bad)))

    def fail_fast(prefix):
        def fn(ws):
            ws.send_frame(TEXT, prefix, fin=False)
            ws.expect_close(1007)  # the rest of the message is never sent
        return fn
    s.case("6.5.1", "fail-fast: first fragment invalid (0xFF), FIN not sent -> 1007",
           fail_fast(b'{"message":"ok \xff'))
    s.case("6.5.2", "fail-fast: surrogate in the first fragment, FIN not sent -> 1007",
           fail_fast(b'{"message":"\xed\xa0\x80'))

    def fail_fast_second(ws):
        ws.send_frame(TEXT, b'{"message":"fine', fin=False)
        ws.send_frame(CONT, b" \xc0\xaf more", fin=False)
        ws.expect_close(1007)
    s.case("6.5.3", "fail-fast: second fragment invalid, FIN not sent -> 1007", fail_fast_second)

    def fail_fast_partial_frame(ws):
        # One frame declaring 1000 bytes of which only an invalid prefix arrives.
        f = frame(TEXT, b'{"message":"\xff' + b" " * 985 + b'"}')
        ws.send(f[:30])
        ws.expect_close(1007)
    s.case("6.5.4", "fail-fast: invalid bytes at the start of an unfinished frame -> 1007",
           fail_fast_partial_frame)

    def truncated_at_fin(ws):
        ws.send_frame(TEXT, b'{"message":"x"}\xe3\x81', fin=False)
        ws.send_frame(CONT, b"")
        ws.expect_close(1007)
    s.case("6.5.5", "message ends inside a multi-byte char across fragments -> 1007",
           truncated_at_fin)
    s.check()


# --- 7 close handling -----------------------------------------------------------------------------

def test_7_close(server):
    s = Suite(server, "close")

    def close_with(payload, expect):
        def fn(ws):
            ws.send_frame(CLOSE, payload)
            ws.expect_close(expect, answer=False)
        return fn
    s.case("7.1.1", "empty close -> 1000 echo, TCP closed", close_with(b"", 1000))
    s.case("7.1.2", "close 1000 with reason -> 1000", close_with(close_payload(1000, b"bye"), 1000))
    s.case("7.1.3", "close 1000 with 123-byte reason (125 payload) -> 1000",
           close_with(close_payload(1000, b"r" * 123), 1000))
    s.case("7.1.4", "close 1000 with UTF-8 reason -> 1000",
           close_with(close_payload(1000, "さようなら😀".encode()), 1000))

    def data_after_close(ws):
        before = chatlog_count(s.server, s.room)
        ws.send(frame(CLOSE) + frame(TEXT, chat("after close")) + frame(PING, b"after"))
        ws.expect_close(1000, answer=False)
        assert chatlog_count(s.server, s.room) == before, "a frame after the close was stored"
    s.case("7.1.5", "text and ping after the close are ignored", data_after_close)

    def close_twice(ws):
        ws.send(frame(CLOSE, close_payload(1000)) + frame(CLOSE, close_payload(1001)))
        ws.expect_close(1000, answer=False)
    s.case("7.1.6", "two closes: one answer, then TCP closed", close_twice)

    def fragmented_then_close(ws):
        ws.send(frame(TEXT, b'{"message":', fin=False) + frame(CLOSE))
        ws.expect_close(1000, answer=False)
    s.case("7.1.7", "close in the middle of a fragmented message -> 1000", fragmented_then_close)

    def chat_then_close(ws):
        ws.send(frame(TEXT, chat("last words")) + frame(CLOSE))
        echo_then_close(s, ws, "last words", 1000)
    s.case("7.1.8", "chat then close in one write: stored, 1000", chat_then_close)
    s.case("7.2.1", "close with a 1-byte payload -> 1002", close_with(b"\x03", 1002))
    s.case("7.2.2", "close 1000 with invalid UTF-8 reason -> 1002",
           close_with(close_payload(1000, b"bad \xff reason"), 1002))
    s.case("7.2.3", "close 1000 with a surrogate in the reason -> 1002",
           close_with(close_payload(1000, b"\xed\xa0\x80"), 1002))
    s.case("7.2.4", "close with a 126-byte payload -> 1002",
           close_with(close_payload(1000, b"r" * 124), 1002))
    s.case("7.2.5", "fragmented close -> 1002",
           fails_with(1002, frame(CLOSE, b"\x03", fin=False), frame(CONT, b"\xe8")))
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
        s.case("7.3.%d" % code, "valid close code %d -> echoed" % code,
               close_with(close_payload(code), code))
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
        s.case("7.4.%d" % code, "invalid close code %d -> 1002" % code,
               close_with(close_payload(code), 1002))
    s.check()


# --- slow consumer --------------------------------------------------------------------------------

def dropped_total(server):
    m = requests.get(server.url + "/metrics", timeout=5).text
    v = re.search(r'^hiroba_ws_messages_dropped_total\{endpoint="chat"\} (\d+)$', m, re.M)
    return int(v.group(1)) if v else 0


def test_slow_consumer(server):
    t0 = time.time()
    token = user(server, "slowpoke")["access"]
    room = make_room(server, "slow")
    slow = WS(server, token, room, rcvbuf=4096)
    fast = WS(server, token, room)
    stop = threading.Event()
    sent = []
    errors = []

    def writer():
        i = 0
        try:
            while not stop.is_set() and i < 200000:
                batch = []
                for _ in range(50):
                    # 190 chars, 4 bytes each past the prefix: fewer messages fill the queue.
                    msg = ("m%07d " % i).ljust(190, "\U0001F600")
                    batch.append(frame(TEXT, chat(msg)))
                    sent.append(msg)
                    i += 1
                fast.send(b"".join(batch))
                # Keep at most ~500 messages (~400 KB) in flight: the fast socket never overflows.
                while len(sent) - received[0] > 500 and not stop.is_set():
                    time.sleep(0.002)
        except OSError as e:
            errors.append(e)

    received = [0]
    echoed = []
    th = threading.Thread(target=writer, daemon=True)
    th.start()
    last_id = 0
    dropped = 0
    deadline = t0 + 20
    next_poll = time.time() + 0.5
    try:
        while time.time() < deadline:
            got = fast.read_chat(timeout=5)
            assert got["id"] > last_id, "ids out of order: %d after %d" % (got["id"], last_id)
            last_id = got["id"]
            echoed.append(got["message"])
            received[0] += 1
            if time.time() > next_poll:
                next_poll = time.time() + 0.5
                dropped = dropped_total(server)
                if dropped >= 1:
                    break
    finally:
        stop.set()
        th.join(10)
    assert not errors, errors
    assert dropped >= 1, "no drop after %d messages in %.1f s" % (received[0], time.time() - t0)
    # The fast socket still works and gets its remaining echoes in order.
    while received[0] < len(sent):
        got = fast.read_chat(timeout=5)
        assert got["id"] > last_id
        last_id = got["id"]
        echoed.append(got["message"])
        received[0] += 1
    # Each message exactly once, in sending order (one socket's messages are stored in order).
    assert echoed == sent
    fast.expect_silence()
    fast.send_frame(TEXT, chat("still here"))
    assert fast.read_chat()["message"] == "still here"
    # The slow socket: drain what was queued; it ends with a 1013 close or a dropped TCP.
    # The bound is 1 MiB of unsent frames (API.md §11); the 1013 close frame is put ahead of
    # whatever had not reached the kernel, so the client reads it after its socket buffers.
    verdict = None
    n = 0
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    try:
        while True:
            fin, rsv, op, p = slow.read_frame(timeout=5)
            if op == CLOSE:
                verdict = struct.unpack("!H", p[:2])[0]
                break
            assert op == TEXT
            n += 1
    except Closed:
        verdict = "tcp dropped"
    assert verdict == 1013, verdict
    slow.expect_eof()
    # Well under the 64 MiB the connection's buffer could hold: the bound is 1 MiB plus what the
    # kernel's socket buffers took.
    assert n * 800 < 16 * 1024 * 1024, n
    fast.send_frame(CLOSE)
    fast.expect_close(1000, answer=False)
    print("case slow-consumer: first drop after about %d messages (~%d MiB to the slow socket)"
          % (received[0], received[0] * 800 >> 20))
    print("case slow-consumer: %d messages echoed once each to the fast socket in id order, slow socket read "
          "%d frames then %s, dropped_total=%d, %.1f s: OK"
          % (received[0], n, verdict, dropped, time.time() - t0))
    for _ in range(50):
        if headcount(server, room) == 0:
            break
        time.sleep(0.1)
    assert headcount(server, room) == 0


# --- headcount after connect/disconnect churn -----------------------------------------------------

def test_headcount_churn(server):
    t0 = time.time()
    token = user(server, "churn")["access"]
    room = make_room(server, "churn")
    req = ("GET /ws/chat/%d/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n"
           % (room, KEY, token)).encode()
    linger0 = struct.pack("ii", 1, 0)
    rnd = random.Random(6455)
    cycles = 1000
    kinds = {}
    for i in range(cycles):
        kind = rnd.choice(["rst-before-101", "rst-after-101", "fin-after-101", "close-frame",
                           "rst-mid-frame"])
        kinds[kind] = kinds.get(kind, 0) + 1
        c = socket.create_connection((server.host, server.port), timeout=10)
        c.sendall(req)
        if kind != "rst-before-101":
            data = b""
            while b"\r\n\r\n" not in data:
                b = c.recv(4096)
                assert b, "closed during handshake at cycle %d" % i
                data += b
            assert data.startswith(b"HTTP/1.1 101"), data[:100]
        if kind == "close-frame":
            c.sendall(frame(CLOSE))
            while c.recv(4096):
                pass
        elif kind == "rst-mid-frame":
            c.sendall(frame(TEXT, chat("partial"))[:8])
        if kind.startswith("rst"):
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger0)
        c.close()
        assert time.time() - t0 < 30, "churn too slow: %d cycles" % i
    n = None
    for _ in range(100):
        n = headcount(server, room)
        if n == 0:
            break
        time.sleep(0.05)
    assert n == 0, "headcount %d after %d cycles" % (n, cycles)
    # Still serving: a fresh socket counts 1, and 0 after it leaves.
    ws = WS(server, token, room)
    ws.send_frame(PING, b"alive")
    ws.expect_pong(b"alive")
    # The join is stored on the thread pool, so it may land just after the pong.
    for _ in range(100):
        if headcount(server, room) == 1:
            break
        time.sleep(0.05)
    assert headcount(server, room) == 1
    ws.send_frame(CLOSE)
    ws.expect_close(1000, answer=False)
    for _ in range(50):
        if headcount(server, room) == 0:
            break
        time.sleep(0.05)
    assert headcount(server, room) == 0
    print("case headcount-churn: %d cycles %s, headcount 0, %.1f s: OK"
          % (cycles, kinds, time.time() - t0))
