"""A small SPDY/3.1 client for the streaming server, as kubectl/the kubelet
speak it: the HTTP/1.1 upgrade with X-Stream-Protocol-Version, SYN_STREAM
with zlib-compressed header blocks (SPDY/3 dictionary), DATA, flow-control
WINDOW_UPDATEs. Python stdlib only. A reader thread collects frames so that
large transfers can flow both ways at once.

    c = SpdyClient.connect(url, ["v4.channel.k8s.io"])
    err = c.open({"streamtype": "error"})
    out = c.open({"streamtype": "stdout"})
    c.wait_fin([err, out]); c.data(out) ...
"""
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import zlib

_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base "
    "content-encoding content-language content-length content-location content-md5 "
    "content-range content-type date etag expect expires from host if-match if-modified-since "
    "if-none-match if-range if-unmodified-since last-modified location max-forwards pragma "
    "proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status "
    "200_OK version HTTP/1.1 url public set-cookie keep-alive origin").split()
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, "
    "Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,"
    "application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.replace("_", " ").encode() for w in _WORDS) \
    + _TAIL.encode()
assert len(DICTIONARY) == 1423

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = \
    1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 1


# For https:// URLs: the context to verify the server with (tests set it to one
# trusting their self-signed certificate).
TLS_CONTEXT = None


def http_request(url, headers, method="POST"):
    """Opens a TCP (or, for https://, TLS) connection for url and sends a
    request head; returns (socket, path)."""
    u = urllib.parse.urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=30)
    if u.scheme == "https":
        sock = (TLS_CONTEXT or ssl.create_default_context()).wrap_socket(
            sock, server_hostname=u.hostname)
    path = u.path + ("?" + u.query if u.query else "")
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (u.hostname, u.port)]
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock, path


def read_response_head(sock):
    """Returns (status, headers list, leftover bytes, body-so-far for non-101)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response head: %r" % buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:]]
    return status, headers, rest


class HTTPError(Exception):
    def __init__(self, status, headers, body):
        super().__init__("HTTP %d: %s" % (status, body))
        self.status, self.headers, self.body = status, headers, body


class Stream:
    def __init__(self, sid, headers):
        self.id, self.headers = sid, headers
        self.buf = bytearray()
        self.fin = self.reset = self.replied = False


class SpdyClient:
    def __init__(self, sock, protocol, leftover=b"", window_updates=True):
        self.sock = sock
        self.protocol = protocol
        self.inbuf = bytearray(leftover)
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8,
                                        zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.streams = {}
        self.next_id = 1
        self.goaway = False
        self.closed = False
        self.window_updates = window_updates
        self.cv = threading.Condition()
        self.wlock = threading.Lock()
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    @classmethod
    def connect(cls, url, protocols, window_updates=True, extra_headers=()):
        headers = [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")]
        headers += [("X-Stream-Protocol-Version", p) for p in protocols]
        headers += list(extra_headers)
        sock, _ = http_request(url, headers)
        status, rh, rest = read_response_head(sock)
        if status != 101:
            body = rest
            sock.settimeout(5)
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            except OSError:
                pass
            sock.close()
            raise HTTPError(status, rh, body.decode("utf-8", "replace"))
        proto = dict((k.lower(), v) for k, v in rh).get("x-stream-protocol-version", "")
        sock.settimeout(None)
        return cls(sock, proto, rest, window_updates)

    # ---- frames ----
    def _send(self, data):
        with self.wlock:
            self.sock.sendall(data)

    def _header_block(self, headers):
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            k, v = k.lower().encode(), v.encode()
            raw += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def control(ftype, flags, payload):
        return struct.pack(">HHI", 0x8000 | 3, ftype, (flags << 24) | len(payload)) + payload

    def open(self, headers, fin=False):
        with self.wlock:
            sid = self.next_id
            self.next_id += 2
            st = Stream(sid, headers)
            with self.cv:
                self.streams[sid] = st
            payload = struct.pack(">IIBB", sid, 0, 0, 0) + self._header_block(headers)
            self.sock.sendall(self.control(SYN_STREAM, FLAG_FIN if fin else 0, payload))
        return sid

    def send(self, sid, data, fin=False):
        view = memoryview(data)
        chunk = 32768
        off = 0
        while True:
            part = view[off:off + chunk]
            last = off + len(part) >= len(view)
            flags = FLAG_FIN if (fin and last) else 0
            self._send(struct.pack(">II", sid & 0x7fffffff, (flags << 24) | len(part)) +
                       bytes(part))
            off += len(part)
            if last:
                break

    def close_stream(self, sid):
        self.send(sid, b"", fin=True)

    def reset(self, sid, status=5):
        self._send(self.control(RST_STREAM, 0, struct.pack(">II", sid, status)))

    def ping(self, pid=1):
        self._send(self.control(PING, 0, struct.pack(">I", pid)))

    def close(self):
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _read_loop(self):
        try:
            while True:
                while len(self.inbuf) >= 8:
                    w0, w1 = struct.unpack(">II", self.inbuf[:8])
                    length = w1 & 0xffffff
                    if len(self.inbuf) < 8 + length:
                        break
                    payload = bytes(self.inbuf[8:8 + length])
                    del self.inbuf[:8 + length]
                    self._frame(w0, w1 >> 24, payload)
                chunk = self.sock.recv(262144)
                if not chunk:
                    break
                self.inbuf += chunk
        except OSError:
            pass
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def _frame(self, w0, flags, payload):
        if not w0 & 0x80000000:
            sid = w0 & 0x7fffffff
            with self.cv:
                st = self.streams.get(sid)
                if st is not None:
                    st.buf += payload
                    if flags & FLAG_FIN:
                        st.fin = True
                self.cv.notify_all()
            if self.window_updates and payload and not self.closed:
                try:
                    self._send(self.control(WINDOW_UPDATE, 0, struct.pack(">II", sid,
                                                                          len(payload))) +
                               self.control(WINDOW_UPDATE, 0, struct.pack(">II", 0,
                                                                          len(payload))))
                except OSError:
                    pass
            return
        ftype = w0 & 0xffff
        with self.cv:
            if ftype in (SYN_REPLY, HEADERS):
                sid = struct.unpack(">I", payload[:4])[0] & 0x7fffffff
                self.inflate.decompress(payload[4:])
                st = self.streams.get(sid)
                if st:
                    st.replied = True
                    if flags & FLAG_FIN:
                        st.fin = True
            elif ftype == RST_STREAM:
                sid, status = struct.unpack(">II", payload)
                st = self.streams.get(sid)
                if st:
                    st.reset = st.fin = True
            elif ftype == GOAWAY:
                self.goaway = True
            elif ftype == PING:
                self.last_ping = struct.unpack(">I", payload)[0]
            self.cv.notify_all()

    # ---- waiting ----
    def wait(self, pred, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0 or (self.closed and not pred()):
                    return pred()
                self.cv.wait(min(left, 0.5))
            return True

    def wait_fin(self, sids, timeout=30):
        return self.wait(lambda: all(self.streams[s].fin for s in sids), timeout)

    def wait_bytes(self, sid, n, timeout=30):
        return self.wait(lambda: len(self.streams[sid].buf) >= n or self.streams[sid].fin,
                         timeout)

    def data(self, sid):
        with self.cv:
            return bytes(self.streams[sid].buf)

    def take(self, sid):
        with self.cv:
            b = bytes(self.streams[sid].buf)
            self.streams[sid].buf.clear()
            return b


def exec_streams(client, stdin=False, stdout=True, stderr=True, tty=False):
    """Opens the streams of an exec/attach like kubectl: error first."""
    ids = {"error": client.open({"streamtype": "error"})}
    if stdin:
        ids["stdin"] = client.open({"streamtype": "stdin"})
    if stdout:
        ids["stdout"] = client.open({"streamtype": "stdout"})
    if stderr and not tty:
        ids["stderr"] = client.open({"streamtype": "stderr"})
    if tty:
        ids["resize"] = client.open({"streamtype": "resize"})
    return ids
