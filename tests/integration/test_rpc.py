"""The generic gRPC server (src/rpc) against a real gRPC client and raw HTTP/2.

Runs tests/rpc_testserver/rpc_testserver (see its main.c for the methods) from
$CRIC_BUILD_DIR (default /work/main/build). Raw HTTP/2 tests build frames by
hand and decode the server's header blocks with libnghttp2's HPACK inflater
(through ctypes). Every bad-input test ends by checking that the server is
still alive and serving. Run with /usr/bin/python3."""
import concurrent.futures
import ctypes
import ctypes.util
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import grpc
import pytest

BUILD = os.environ.get("CRIC_BUILD_DIR", "/work/main/build")
SERVER_BIN = os.path.join(BUILD, "tests", "rpc_testserver", "rpc_testserver")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")
FAIL_MESSAGE = 'failure 100% sûr: ☃ "quoted" tab\there'
MiB = 1024 * 1024

pytestmark = pytest.mark.skipif(not os.path.exists(SERVER_BIN),
                                reason="rpc_testserver not built in " + BUILD)


# ---------------------------------------------------------------- the server

class RpcTestServer:
    def __init__(self, env=None):
        self.base = tempfile.mkdtemp(prefix="rpc-t-", dir="/tmp")
        # a parent directory that does not exist yet: the server creates it
        self.sock = os.path.join(self.base, "run", "sub", "test.sock")
        self.log_path = os.path.join(self.base, "server.log")
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self._channels = []

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([SERVER_BIN, self.sock], stdout=self.logf, stderr=self.logf,
                                     stdin=subprocess.DEVNULL, env=self.env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "rpc_testserver exited:\n" + self.log()
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(self.sock)
                return self
            except OSError:
                time.sleep(0.01)
        raise AssertionError("rpc_testserver did not start:\n" + self.log())

    def channel(self, **options):
        opts = [("grpc.max_receive_message_length", 64 * MiB),
                ("grpc.max_send_message_length", 64 * MiB)]
        opts += list(options.items())
        ch = grpc.insecure_channel("unix:" + self.sock, options=opts)
        self._channels.append(ch)
        return ch

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_serving(self):
        assert self.alive(), "server died:\n" + self.log()[-4000:]
        with grpc.insecure_channel("unix:" + self.sock) as ch:
            assert ch.unary_unary("/test.Test/Echo")(b"ping", timeout=5) == b"ping"
            assert ch.unary_unary("/test.Test/EchoPool")(b"pong", timeout=5) == b"pong"

    def stats(self):
        with grpc.insecure_channel("unix:" + self.sock) as ch:
            text = ch.unary_unary("/test.Test/Stats")(b"", timeout=5).decode()
        return dict((k, int(v)) for k, v in (kv.split("=") for kv in text.split()))

    def wait_stats(self, key, value, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.stats()[key]
            if got == value:
                return
            if time.monotonic() > deadline:
                raise AssertionError("%s stayed %d, wanted %d" % (key, got, value))
            time.sleep(0.02)

    def stop(self, timeout=15):
        for ch in self._channels:
            ch.close()
        self._channels = []
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("rpc_testserver did not exit on SIGTERM:\n" + self.log())
        finally:
            self.logf.close()
        return rc

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def assert_clean_log(self):
        text = self.log()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, "sanitizer report:\n" + text[-8000:]

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


def _finish(server):
    rc = server.stop()
    assert rc == 0, "rpc_testserver exited %s:\n%s" % (rc, server.log()[-4000:])
    assert not os.path.exists(server.sock), "socket left behind"
    server.assert_clean_log()
    server.cleanup()


@pytest.fixture(scope="module")
def server():
    s = RpcTestServer().start()
    yield s
    _finish(s)


@pytest.fixture
def make_server():
    made = []

    def factory(env=None, start=True):
        s = RpcTestServer(env)
        made.append(s)
        return s.start() if start else s

    yield factory
    for s in made:
        if s.proc is not None and s.proc.returncode is None:
            _finish(s)
            continue
        for c in s._channels:
            c.close()
        if s.proc is not None and not s.logf.closed:
            s.logf.close()
        s.assert_clean_log()
        s.cleanup()


@pytest.fixture
def ch(server):
    c = grpc.insecure_channel("unix:" + server.sock,
                              options=[("grpc.max_receive_message_length", 64 * MiB)])
    yield c
    c.close()


def unary(ch, method):
    return ch.unary_unary("/test.Test/" + method)


# ------------------------------------------------- raw HTTP/2 with ctypes HPACK

class _NV(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("value", ctypes.c_void_p),
                ("namelen", ctypes.c_size_t), ("valuelen", ctypes.c_size_t),
                ("flags", ctypes.c_uint8)]


def _load_nghttp2():
    lib = ctypes.CDLL(ctypes.util.find_library("nghttp2") or "libnghttp2.so.14")
    lib.nghttp2_hd_inflate_new.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.nghttp2_hd_inflate_hd2.restype = ctypes.c_ssize_t
    lib.nghttp2_hd_inflate_hd2.argtypes = [ctypes.c_void_p, ctypes.POINTER(_NV),
                                           ctypes.POINTER(ctypes.c_int), ctypes.c_void_p,
                                           ctypes.c_size_t, ctypes.c_int]
    lib.nghttp2_hd_inflate_end_headers.argtypes = [ctypes.c_void_p]
    lib.nghttp2_hd_inflate_del.argtypes = [ctypes.c_void_p]
    return lib


_NGHTTP2 = _load_nghttp2()
_HD_FINAL, _HD_EMIT = 0x01, 0x02


class Inflater:
    def __init__(self):
        self.h = ctypes.c_void_p()
        assert _NGHTTP2.nghttp2_hd_inflate_new(ctypes.byref(self.h)) == 0

    def decode(self, block):
        buf = (ctypes.c_uint8 * max(len(block), 1)).from_buffer_copy(block or b"\0")
        base, off, out = ctypes.addressof(buf), 0, []
        while True:
            nv, flags = _NV(), ctypes.c_int(0)
            n = _NGHTTP2.nghttp2_hd_inflate_hd2(self.h, ctypes.byref(nv), ctypes.byref(flags),
                                                base + off, len(block) - off, 1)
            assert n >= 0, "HPACK error %d" % n
            off += n
            if flags.value & _HD_EMIT:
                out.append((ctypes.string_at(nv.name, nv.namelen).decode(),
                            ctypes.string_at(nv.value, nv.valuelen).decode()))
            if flags.value & _HD_FINAL:
                _NGHTTP2.nghttp2_hd_inflate_end_headers(self.h)
                return out
            if n == 0 and not flags.value & _HD_EMIT:
                return out

    def __del__(self):
        if self.h:
            _NGHTTP2.nghttp2_hd_inflate_del(self.h)


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid & 0x7FFFFFFF) + payload


def _hpack_int(value, prefix_bits, first):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """Literal header field without indexing, new name, no Huffman."""
    if isinstance(name, str):
        name = name.encode()
    if isinstance(value, str):
        value = value.encode()
    return b"\x00" + _hpack_int(len(name), 7, 0) + name + _hpack_int(len(value), 7, 0) + value


def request_block(path, method="POST", content_type="application/grpc", extra=()):
    fields = [(":method", method), (":scheme", "http"), (":path", path),
              (":authority", "localhost")]
    if content_type is not None:
        fields.append(("content-type", content_type))
    fields.append(("te", "trailers"))
    fields += list(extra)
    return b"".join(hpack_literal(n, v) for n, v in fields)


def grpc_msg(payload, flag=0):
    return bytes([flag]) + struct.pack(">I", len(payload)) + payload


class RawH2:
    """A hand-driven HTTP/2 client connection."""

    def __init__(self, path, preface=True):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""
        self.closed = False
        self.inflater = Inflater()
        self.streams = {}
        self.goaway = None
        self.block, self.block_sid, self.block_end = b"", None, False
        if preface:
            try:
                self.send(PREFACE + frame(SETTINGS, 0, 0))
            except OSError:  # a server over its connection limit may close first
                self.closed = True

    def send(self, data):
        self.s.sendall(data)

    def request(self, sid, path, body=None, end=True, **kw):
        data = frame(HEADERS, END_HEADERS | (END_STREAM if body is None and end else 0), sid,
                     request_block(path, **kw))
        if body is not None:
            data += frame(DATA, END_STREAM if end else 0, sid, body)
        self.send(data)

    def _stream(self, sid):
        return self.streams.setdefault(sid, {"headers": [], "data": b"", "ended": False,
                                             "rst": None})

    def _read_some(self, timeout):
        self.s.settimeout(timeout)
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[:3], "big")
            if len(self.buf) < 9 + length:
                break
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = self.buf[9:9 + length]
            self.buf = self.buf[9 + length:]
            if ftype in (HEADERS, CONTINUATION):
                self.block += payload
                if ftype == HEADERS:
                    self.block_sid, self.block_end = sid, bool(flags & END_STREAM)
                if flags & END_HEADERS:
                    st = self._stream(self.block_sid)
                    st["headers"].append(dict(self.inflater.decode(self.block)))
                    st["ended"] = st["ended"] or self.block_end
                    self.block = b""
            elif ftype == DATA:
                st = self._stream(sid)
                st["data"] += payload
                st["ended"] = st["ended"] or bool(flags & END_STREAM)
                if length:
                    self.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", length)))
            elif ftype == RST_STREAM:
                self._stream(sid)["rst"] = int.from_bytes(payload[:4], "big")
            elif ftype == SETTINGS and not flags & ACK:
                self.send(frame(SETTINGS, ACK, 0))
            elif ftype == GOAWAY:
                self.goaway = int.from_bytes(payload[4:8], "big")
        return True

    def wait(self, sid, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            st = self.streams.get(sid)
            if st and (st["ended"] or st["rst"] is not None):
                return st
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                raise AssertionError("stream %d did not end: %r" % (sid, st))
            self._read_some(min(left, 0.5))

    def wait_closed(self, timeout=10.0):
        """True once the server closes the connection."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            try:
                self._read_some(0.2)
            except OSError:
                self.closed = True
        return self.closed

    def close(self):
        self.s.close()


def trailers_of(st):
    """(grpc-status, grpc-message) of a finished raw stream."""
    last = st["headers"][-1]
    return int(last["grpc-status"]), last.get("grpc-message", "")


# ------------------------------------------------------------ behaviour tests

def test_unary_echo(server, ch):
    assert unary(ch, "Echo")(b"hello", timeout=5) == b"hello"
    assert unary(ch, "EchoPool")(b"hello pool", timeout=5) == b"hello pool"
    assert unary(ch, "Echo")(b"", timeout=5) == b""
    big = os.urandom(MiB) * 3
    assert unary(ch, "EchoPool")(big, timeout=10) == big
    resp, call = unary(ch, "Echo").with_call(b"x", timeout=5)
    assert resp == b"x" and call.code() == grpc.StatusCode.OK


def test_message_size_limit_is_inclusive(server, ch):
    msg = b"\x07" * (16 * MiB)
    assert unary(ch, "EchoPool")(msg, timeout=30) == msg


def test_stream_1000(server, ch):
    got = [m.decode() for m in ch.unary_stream("/test.Test/Stream")(b"1000", timeout=10)]
    assert got == ["msg-%d" % i for i in range(1000)]
    assert list(ch.unary_stream("/test.Test/Stream")(b"0", timeout=5)) == []


def test_stream_with_slow_reader(server, ch):
    """The worker blocks on the bounded queue instead of buffering 20000 messages."""
    it = ch.unary_stream("/test.Test/Stream")(b"20000", timeout=30)
    n = 0
    for m in it:
        if n < 5:
            time.sleep(0.1)
        assert m == b"msg-%d" % n
        n += 1
    assert n == 20000


def test_200_concurrent_calls_one_slow(server, ch):
    slow = unary(ch, "Sleep").future(b"3000", timeout=10)
    server.wait_stats("sleeping", 1)
    t0 = time.monotonic()
    futs = [unary(ch, "EchoPool" if i % 2 else "Echo").future(b"m%d" % i, timeout=10)
            for i in range(200)]
    for i, f in enumerate(futs):
        assert f.result() == b"m%d" % i
    assert time.monotonic() - t0 < 2.5, "fast calls waited for the slow one"
    assert not slow.done()
    assert slow.result() == b"slept"


def test_deadline_exceeded(server, ch):
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, "Sleep")(b"2000", timeout=0.2)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t0 < 1.0
    # the handler saw rpc_call_cancelled() and stopped early
    server.wait_stats("sleeping", 0, timeout=1.0)
    server.assert_serving()


def test_deadline_exceeded_sent_by_server(server):
    """The status comes from the server at the deadline (grpc-timeout header)."""
    c = RawH2(server.sock)
    t0 = time.monotonic()
    c.request(1, "/test.Test/Sleep", grpc_msg(b"2000"), extra=[("grpc-timeout", "200m")])
    st = c.wait(1, timeout=5)
    elapsed = time.monotonic() - t0
    assert trailers_of(st)[0] == 4, st
    assert "deadline" in trailers_of(st)[1]
    assert 0.15 < elapsed < 1.0, elapsed
    # deadlines in other units, and an already expired one
    c.request(3, "/test.Test/Sleep", grpc_msg(b"2000"), extra=[("grpc-timeout", "100000u")])
    assert trailers_of(c.wait(3))[0] == 4
    c.request(5, "/test.Test/Echo", grpc_msg(b"x"), extra=[("grpc-timeout", "0S")])
    assert trailers_of(c.wait(5))[0] == 4
    c.request(7, "/test.Test/Echo", grpc_msg(b"x"), extra=[("grpc-timeout", "1H")])
    st = c.wait(7)
    assert trailers_of(st)[0] == 0 and st["data"] == grpc_msg(b"x")
    c.close()
    server.wait_stats("sleeping", 0, timeout=1.0)
    server.assert_serving()


def test_bad_grpc_timeout(server):
    c = RawH2(server.sock)
    for sid, value in ((1, "10"), (3, "123456789S"), (5, "-1S"), (7, "1x")):
        c.request(sid, "/test.Test/Echo", grpc_msg(b"x"), extra=[("grpc-timeout", value)])
        assert trailers_of(c.wait(sid))[0] == 13, value
    c.close()
    server.assert_serving()


def test_send_owned(server, ch):
    """rpc_call_send_owned: the handler's buffer goes out as it is, from empty
    to several DATA frames and flow-control windows; over the send limit the
    call ends RESOURCE_EXHAUSTED and the buffer is freed (ASan)."""
    for body in (b"", b"ab", bytes(range(256)) * 4099):
        assert unary(ch, "Double")(body, timeout=10) == body + body
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, "Double")(b"y" * (9 * MiB), timeout=10)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeds the limit" in e.value.details()
    server.assert_serving()


def test_oversized_message(server, ch):
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, "Echo")(b"x" * (17 * MiB), timeout=10)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "exceeds the limit" in e.value.details()
    server.assert_serving()


def test_oversized_prefix_is_refused_before_payload(server):
    """A prefix announcing 4 GiB is answered at once; nothing is buffered."""
    c = RawH2(server.sock)
    c.request(1, "/test.Test/Echo", b"\x00\xff\xff\xff\xff", end=False)
    st = c.wait(1)
    assert trailers_of(st)[0] == 8
    c.close()
    server.assert_serving()


def test_unknown_method(server, ch):
    with pytest.raises(grpc.RpcError) as e:
        ch.unary_unary("/test.Test/NoSuchMethod")(b"", timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "/test.Test/NoSuchMethod" in e.value.details()


def test_compressed_message(server, ch):
    with pytest.raises(grpc.RpcError) as e:
        unary(ch, "Echo")(b"compress me " * 100, timeout=5, compression=grpc.Compression.Gzip)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    server.assert_serving()


def test_compressed_flag_without_encoding_header(server):
    c = RawH2(server.sock)
    c.request(1, "/test.Test/Echo", grpc_msg(b"abc", flag=1))
    code, msg = trailers_of(c.wait(1))
    assert code == 12 and "compress" in msg
    c.request(3, "/test.Test/Echo", grpc_msg(b"abc", flag=0x80))
    assert trailers_of(c.wait(3))[0] == 13
    c.request(5, "/test.Test/Echo", grpc_msg(b"abc"), extra=[("grpc-encoding", "identity")])
    st = c.wait(5)
    assert trailers_of(st)[0] == 0 and st["data"] == grpc_msg(b"abc")
    c.close()
    server.assert_serving()


def test_request_message_count(server):
    """Unary and server-streaming requests carry exactly one message."""
    c = RawH2(server.sock)
    c.request(1, "/test.Test/Echo")  # HEADERS with END_STREAM, no message
    code, msg = trailers_of(c.wait(1))
    assert code == 13 and "no message" in msg
    c.request(3, "/test.Test/Echo", grpc_msg(b"a") + grpc_msg(b"b"))
    code, msg = trailers_of(c.wait(3))
    assert code == 13 and "more than one" in msg
    c.request(5, "/test.Test/Stream", grpc_msg(b"1") + grpc_msg(b"1"))
    assert trailers_of(c.wait(5))[0] == 13
    c.request(7, "/test.Test/Echo", grpc_msg(b"abcdef")[:7])  # truncated, then END_STREAM
    code, msg = trailers_of(c.wait(7))
    assert code == 13 and "inside a message" in msg
    # one message split over many DATA frames is fine
    body = grpc_msg(b"0123456789" * 10)
    c.send(frame(HEADERS, END_HEADERS, 9, request_block("/test.Test/EchoPool")))
    for i in range(0, len(body), 7):
        c.send(frame(DATA, END_STREAM if i + 7 >= len(body) else 0, 9, body[i:i + 7]))
    st = c.wait(9)
    assert trailers_of(st)[0] == 0 and st["data"] == body
    c.close()
    server.assert_serving()


def test_non_post_and_bad_content_type(server):
    c = RawH2(server.sock)
    c.request(1, "/test.Test/Echo", method="GET")
    st = c.wait(1)
    assert st["headers"][0][":status"] == "405"
    assert trailers_of(st)[0] == 13
    c.request(3, "/test.Test/Echo", grpc_msg(b"x"), content_type="text/plain")
    st = c.wait(3)
    assert st["headers"][0][":status"] == "415"
    assert trailers_of(st)[0] == 13
    c.request(5, "/test.Test/Echo", grpc_msg(b"x"), content_type=None)
    assert c.wait(5)["headers"][0][":status"] == "415"
    c.request(7, "/test.Test/Echo", grpc_msg(b"x"), content_type="application/grpc+proto")
    st = c.wait(7)
    assert st["headers"][0][":status"] == "200" and trailers_of(st)[0] == 0
    assert st["headers"][0]["content-type"] == "application/grpc"
    c.close()
    server.assert_serving()


def test_oversized_headers_and_huge_timeout(server):
    c = RawH2(server.sock)
    # a header list over the server's 64 KiB limit resets that stream only
    big = [("x-big-%d" % i, "v" * 8000) for i in range(10)]
    block = request_block("/test.Test/Echo", extra=big)
    c.send(frame(HEADERS, 0, 1, block[:16000]))
    rest = block[16000:]
    while rest:
        chunk, rest = rest[:16000], rest[16000:]
        c.send(frame(CONTINUATION, 0 if rest else END_HEADERS, 1, chunk))
    c.send(frame(DATA, END_STREAM, 1, grpc_msg(b"x")))
    st = c.wait(1)
    assert st["rst"] is not None or trailers_of(st)[0] != 0
    # the largest grpc-timeout is valid and means "no deadline" in practice
    c2 = RawH2(server.sock)
    c2.request(1, "/test.Test/Echo", grpc_msg(b"ok"), extra=[("grpc-timeout", "99999999H")])
    st = c2.wait(1)
    assert trailers_of(st)[0] == 0 and st["data"] == grpc_msg(b"ok")
    c.close()
    c2.close()
    server.assert_serving()


def test_ping_flood_without_reading(server):
    """Frames that need an answer, from a client that never reads."""
    c = RawH2(server.sock)
    c.s.settimeout(2)
    ping = frame(PING, 0, 0, b"12345678")
    try:
        for _ in range(200):
            c.send(ping * 500)
    except OSError:  # the server stopped reading us, or dropped us as a flood
        pass
    c.close()
    server.assert_serving()


def test_garbage_bytes(server):
    for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(4096),
                 PREFACE + os.urandom(2048), PREFACE + b"\x00" * 64):
        c = RawH2(server.sock, preface=False)
        try:
            c.send(junk)
        except OSError:
            pass
        assert c.wait_closed(), "server kept a garbage connection open"
        c.close()
    server.assert_serving()


def test_truncated_frame_then_disconnect(server):
    # a frame header announcing 100 bytes, then only 10
    c = RawH2(server.sock)
    c.send(frame(HEADERS, END_HEADERS, 1, request_block("/test.Test/Echo"))[:9] + b"\x00" * 10)
    c.close()
    # a HEADERS frame cut in half
    c = RawH2(server.sock)
    f = frame(HEADERS, END_HEADERS, 1, request_block("/test.Test/Echo"))
    c.send(f[:len(f) // 2])
    c.close()
    # a message cut in the middle of its DATA, then the connection goes
    c = RawH2(server.sock)
    c.request(1, "/test.Test/EchoPool", grpc_msg(b"y" * 1000)[:500], end=False)
    time.sleep(0.05)
    c.close()
    # a request sent, then gone before the answer
    c = RawH2(server.sock)
    c.request(1, "/test.Test/Sleep", grpc_msg(b"300"))
    c.close()
    server.assert_serving()
    server.wait_stats("sleeping", 0, timeout=2.0)


def test_client_disconnect_mid_sleep(server):
    ch = server.channel()
    fut = unary(ch, "Sleep").future(b"20000", timeout=30)
    server.wait_stats("sleeping", 1)
    ch.close()
    with pytest.raises(grpc.RpcError):
        fut.result()
    server.wait_stats("sleeping", 0, timeout=2.0)
    # the same with a raw connection that just goes away
    c = RawH2(server.sock)
    c.request(1, "/test.Test/Sleep", grpc_msg(b"20000"))
    server.wait_stats("sleeping", 1)
    c.close()
    server.wait_stats("sleeping", 0, timeout=2.0)
    server.assert_serving()


def test_1000_streams_one_connection(server, ch):
    futs = [unary(ch, "EchoPool" if i % 3 else "Echo").future(b"%d" % i, timeout=30)
            for i in range(1000)]
    for i, f in enumerate(futs):
        assert f.result() == b"%d" % i


def test_1000_open_streams_then_disconnect(server):
    """Streams opened and never finished, more than SETTINGS allow, then gone."""
    c = RawH2(server.sock)
    batch = b""
    for i in range(1100):
        sid = 2 * i + 1
        batch += frame(HEADERS, END_HEADERS, sid, request_block("/test.Test/EchoPool"))
        batch += frame(DATA, 0, sid, grpc_msg(b"z" * 10)[:8])
    c.send(batch)
    time.sleep(0.3)
    c.close()
    server.assert_serving()


def test_many_rst_streams(server):
    c = RawH2(server.sock)
    for i in range(300):
        sid = 2 * i + 1
        c.request(sid, "/test.Test/Sleep", grpc_msg(b"1000"))
        c.send(frame(RST_STREAM, 0, sid, struct.pack(">I", 8)))
    time.sleep(0.2)
    c.close()
    server.wait_stats("sleeping", 0, timeout=5.0)
    server.assert_serving()


def test_subscribe_cancelled_by_client(server, ch):
    it = ch.unary_stream("/test.Test/Subscribe")(b"", timeout=30)
    got = []
    for m in it:
        got.append(m)
        if len(got) == 5:
            break
    assert got == [b"event-%d" % i for i in range(5)]
    assert server.stats()["subscribers"] == 1
    it.cancel()
    server.wait_stats("subscribers", 0, timeout=2.0)
    # a subscriber whose connection goes away
    ch2 = server.channel()
    it2 = ch2.unary_stream("/test.Test/Subscribe")(b"", timeout=30)
    assert next(it2) == b"event-0"
    ch2.close()
    server.wait_stats("subscribers", 0, timeout=2.0)
    # a finite subscription ends with OK
    assert list(ch.unary_stream("/test.Test/Subscribe")(b"3", timeout=5)) == \
        [b"event-0", b"event-1", b"event-2"]
    server.assert_serving()


def test_subscribe_deadline(server, ch):
    it = ch.unary_stream("/test.Test/Subscribe")(b"", timeout=0.3)
    n = 0
    with pytest.raises(grpc.RpcError) as e:
        for _ in it:
            n += 1
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert n > 3
    server.wait_stats("subscribers", 0, timeout=2.0)


def test_percent_encoded_message_roundtrip(server, ch):
    for code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT,
                 grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.INTERNAL,
                 grpc.StatusCode.UNAUTHENTICATED):
        with pytest.raises(grpc.RpcError) as e:
            unary(ch, "Fail")(b"%d" % code.value[0], timeout=5)
        assert e.value.code() == code
        assert e.value.details() == FAIL_MESSAGE
    # and on the wire it is percent-encoded ASCII
    c = RawH2(server.sock)
    c.request(1, "/test.Test/Fail", grpc_msg(b"5"))
    code, raw = trailers_of(c.wait(1))
    assert code == 5
    assert raw == "failure 100%25 s%C3%BBr: %E2%98%83 \"quoted\" tab%09here"
    c.close()


def test_concurrent_connections(server):
    def work(i):
        with grpc.insecure_channel("unix:" + server.sock) as c:
            for j in range(20):
                assert unary(c, "EchoPool" if j % 2 else "Echo")(b"%d-%d" % (i, j),
                                                                 timeout=10) == b"%d-%d" % (i, j)
            return True
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        assert all(ex.map(work, range(32)))


def test_max_connections(make_server):
    s = make_server({"RPC_TESTSERVER_MAX_CONNS": "4"})
    time.sleep(0.3)  # the start-up probe connection is closed by then
    conns = [RawH2(s.sock) for _ in range(4)]
    for i, c in enumerate(conns):
        c.request(1, "/test.Test/Echo", grpc_msg(b"%d" % i))
        assert c.wait(1)["data"] == grpc_msg(b"%d" % i)
    extra = RawH2(s.sock)
    assert extra.wait_closed(2.0), "connection over the limit was not closed"
    extra.close()
    for c in conns:
        c.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            s.assert_serving()
            break
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert "refusing connection" in s.log()


def test_listen_refuses_live_socket_and_replaces_stale(make_server):
    a = make_server()
    proc = subprocess.run([SERVER_BIN, a.sock], capture_output=True, timeout=10)
    assert proc.returncode == 1
    assert b"in use by another server" in proc.stderr
    a.assert_serving()
    # a path that is not a socket is refused, not removed
    plain = os.path.join(a.base, "plain")
    with open(plain, "w") as f:
        f.write("keep")
    proc = subprocess.run([SERVER_BIN, plain], capture_output=True, timeout=10)
    assert proc.returncode == 1 and b"not a socket" in proc.stderr
    assert open(plain).read() == "keep"
    # a stale socket (nobody listening) is replaced
    stale = make_server(start=False)
    os.makedirs(os.path.dirname(stale.sock), exist_ok=True)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(stale.sock)
    dead.close()
    assert os.path.exists(stale.sock)
    stale.start()
    stale.assert_serving()
    assert "removed stale socket" in stale.log()
    assert os.stat(stale.sock).st_mode & 0o777 == 0o660


def test_sigterm_with_calls_in_flight(make_server):
    s = make_server()
    ch = s.channel()
    sub = ch.unary_stream("/test.Test/Subscribe")(b"", timeout=30)
    assert next(sub) == b"event-0"
    fut = unary(ch, "Sleep").future(b"500", timeout=10)
    s.wait_stats("sleeping", 1)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert fut.result() == b"slept"
    # the event stream is ended by the shutdown, not left hanging
    with pytest.raises(grpc.RpcError) as e:
        for _ in sub:
            pass
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert s.proc.wait(10) == 0
    assert time.monotonic() - t0 < 3.0
    assert not os.path.exists(s.sock)
    # new connections are refused once shutdown started
    with pytest.raises(grpc.RpcError):
        unary(ch, "Echo")(b"late", timeout=2)
    s.logf.close()
    s.assert_clean_log()


def test_sigterm_grace_cancels_stuck_calls(make_server):
    s = make_server({"RPC_TESTSERVER_GRACE_MS": "300"})
    ch = s.channel()
    fut = unary(ch, "Sleep").future(b"20000", timeout=30)
    s.wait_stats("sleeping", 1)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    with pytest.raises(grpc.RpcError) as e:
        fut.result()
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert s.proc.wait(10) == 0
    assert time.monotonic() - t0 < 2.0
    assert not os.path.exists(s.sock)
    s.logf.close()
    s.assert_clean_log()


def test_server_still_serving_at_the_end(server):
    server.assert_serving()
    assert server.stats() == {"sleeping": 0, "subscribers": 0}
