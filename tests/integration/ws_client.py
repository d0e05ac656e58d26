"""A small WebSocket (RFC 6455) client with the Kubernetes channel protocols
(channel.k8s.io, base64.channel.k8s.io, v4/v5.channel.k8s.io): every message
carries its channel in the first byte (binary) or as an ASCII digit with a
base64 payload (text). Python stdlib only; a reader thread collects channel
data.

    c = WsClient.connect(url, ["v5.channel.k8s.io"])
    c.send(0, b"input"); c.close_channel(0)   # v5 close signal
    c.wait_closed(); c.data(1)
"""
import base64
import hashlib
import os
import socket
import struct
import threading
import time

from spdy_client import HTTPError, http_request, read_response_head

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10


class WsClient:
    def __init__(self, sock, protocol, leftover=b""):
        self.sock = sock
        self.protocol = protocol
        self.base64 = "base64" in protocol
        self.inbuf = bytearray(leftover)
        self.channels = {}
        self.messages = []  # (channel, bytes) in arrival order
        self.closed = False
        self.close_code = None
        self.cv = threading.Condition()
        self.wlock = threading.Lock()
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    @classmethod
    def connect(cls, url, protocols, key=None):
        key = key or base64.b64encode(os.urandom(16)).decode()
        headers = [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                   ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", key)]
        if protocols:
            headers.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
        sock, _ = http_request(url, headers, method="GET")
        status, rh, rest = read_response_head(sock)
        h = dict((k.lower(), v) for k, v in rh)
        if status != 101:
            sock.close()
            raise HTTPError(status, rh, rest.decode("utf-8", "replace"))
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if h.get("sec-websocket-accept") != want:
            raise AssertionError("bad Sec-WebSocket-Accept %r" % h.get("sec-websocket-accept"))
        return cls(sock, h.get("sec-websocket-protocol", ""), rest)

    def _frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack(">BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
            _mask_fast(payload, mask)
        with self.wlock:
            self.sock.sendall(head + mask + masked)

    def send(self, channel, data):
        if self.base64:
            self._frame(OP_TEXT, str(channel).encode() + base64.b64encode(data))
        else:
            self._frame(OP_BINARY, bytes([channel]) + data)

    def close_channel(self, channel):
        """v5.channel.k8s.io close signal."""
        self._frame(OP_BINARY, bytes([255, channel]))

    def close(self, code=1000):
        try:
            self._frame(OP_CLOSE, struct.pack(">H", code))
        except OSError:
            pass

    def abort(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _read_loop(self):
        try:
            while True:
                while True:
                    msg = self._parse()
                    if msg is None:
                        break
                    self._on_message(*msg)
                chunk = self.sock.recv(262144)
                if not chunk:
                    break
                self.inbuf += chunk
        except OSError:
            pass
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def _parse(self):
        b = self.inbuf
        if len(b) < 2:
            return None
        opcode = b[0] & 0x0f
        masked = b[1] & 0x80
        n = b[1] & 0x7f
        off = 2
        if n == 126:
            if len(b) < 4:
                return None
            n = struct.unpack(">H", b[2:4])[0]
            off = 4
        elif n == 127:
            if len(b) < 10:
                return None
            n = struct.unpack(">Q", b[2:10])[0]
            off = 10
        if masked:
            raise AssertionError("server frames must not be masked")
        if len(b) < off + n:
            return None
        if not b[0] & 0x80:
            raise AssertionError("fragmented server message (not expected)")
        payload = bytes(b[off:off + n])
        del b[:off + n]
        return opcode, payload

    def _on_message(self, opcode, payload):
        with self.cv:
            if opcode == OP_CLOSE:
                self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 0
                self.closed = True
            elif opcode in (OP_TEXT, OP_BINARY) and payload:
                if self.base64:
                    ch, data = int(chr(payload[0])), base64.b64decode(payload[1:])
                else:
                    ch, data = payload[0], payload[1:]
                self.channels.setdefault(ch, bytearray()).extend(data)
                self.messages.append((ch, data))
            self.cv.notify_all()
        if opcode == OP_PING:
            self._frame(OP_PONG, payload)

    def wait(self, pred, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return pred()
                self.cv.wait(min(left, 0.5))
            return True

    def wait_closed(self, timeout=30):
        return self.wait(lambda: self.closed, timeout)

    def data(self, ch):
        with self.cv:
            return bytes(self.channels.get(ch, b""))


def _mask_fast(payload, mask):
    n = len(payload)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
