"""A registry that stops sending in the middle of a layer: the pull fails
with a clear DEADLINE_EXCEEDED after the configured stall timeout (retried),
instead of hanging, and leaves nothing behind."""
import http.server
import os
import threading
import time
import urllib.error
import urllib.request

import grpc

from registry import Layer, busybox_layer_cached, sha


class StallingProxy:
    """Forwards to the registry, but serves half of one blob and then goes
    silent (keeping the connection open)."""

    def __init__(self, upstream, stall_digest, stall_s=30):
        proxy = self
        self.stalls = 0
        self.enabled = True

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                req = urllib.request.Request("http://%s%s" % (upstream, self.path),
                                             headers={"Accept": self.headers.get("Accept", "*/*")})
                try:
                    with urllib.request.urlopen(req) as r:
                        body = r.read()
                        ctype = r.headers.get("Content-Type", "application/octet-stream")
                except urllib.error.HTTPError as e:
                    self.send_response(e.code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if proxy.enabled and self.path.endswith(stall_digest):
                    proxy.stalls += 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    time.sleep(stall_s)
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.host = "127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_stalled_layer_fails_clearly(registry, make_daemon, pb):
    layer = Layer().file("big", os.urandom(2 << 20)).finish("none")
    registry.push("stall", ["latest"], [busybox_layer_cached(), layer])
    proxy = StallingProxy(registry.host, sha(layer[1]))
    try:
        d = make_daemon(config={"image_pull": {"stall_timeout_seconds": 1}})
        t0 = time.monotonic()
        try:
            d.image().PullImage(pb.PullImageRequest(
                image=pb.ImageSpec(image=proxy.host + "/stall:latest")), timeout=60)
            raise AssertionError("pull through a stalling registry succeeded")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e.details()
            assert "stalled" in e.details()
        elapsed = time.monotonic() - t0
        assert elapsed < 15, (elapsed, d.log()[-3000:])
        assert proxy.stalls == 3  # the layer was retried, then given up
        assert list(d.image().ListImages(pb.ListImagesRequest()).images) == []
        assert [x for x in os.listdir(os.path.join(d.root, "layers")) if x.startswith(".tmp")] == []
    finally:
        proxy.stop()


def test_caller_deadline_cancels_the_pull(registry, make_daemon, pb):
    layer = Layer().file("big", os.urandom(1 << 20)).finish("none")
    registry.push("cancel", ["latest"], [layer])
    proxy = StallingProxy(registry.host, sha(layer[1]), stall_s=20)
    try:
        d = make_daemon()  # default stall timeout: 30 s, longer than this test
        try:
            d.image().PullImage(pb.PullImageRequest(
                image=pb.ImageSpec(image=proxy.host + "/cancel:latest")), timeout=1.5)
            raise AssertionError("pull through a stalling registry succeeded")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "pull cancelled by the caller" not in d.log():
            time.sleep(0.1)
        assert "pull cancelled by the caller" in d.log()
        time.sleep(0.3)
        assert os.listdir(os.path.join(d.root, "layers")) == []
        assert proxy.stalls == 1  # not retried
    finally:
        proxy.stop()
