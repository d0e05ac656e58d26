"""Crash safety of pulls: kill -9 mid-pull leaves no partial image, stray
temporary files are cleaned at start, and the next pull completes."""
import os
import threading
import time

import grpc

from registry import Layer, busybox_layer_cached, sha
from test_image_stall import StallingProxy


def test_kill9_during_pull_then_pull_again(registry, make_daemon, pb):
    big = [Layer().file("blob%d" % i, os.urandom(4 << 20)).finish("gzip") for i in range(3)]
    img = registry.push("big", ["latest"], [busybox_layer_cached()] + big)
    # The last layer stops half way: the pull is reliably in flight when killed.
    proxy = StallingProxy(registry.host, sha(big[-1][1]), stall_s=20)
    ref = proxy.host + "/big:latest"
    d = make_daemon()
    layers = os.path.join(d.root, "layers")
    errors = []

    def run():
        try:
            d.image().PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=60)
        except grpc.RpcError as e:
            errors.append(e)
    t = threading.Thread(target=run)
    t.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proxy.stalls == 0:
            time.sleep(0.01)
        time.sleep(0.2)
        assert proxy.stalls == 1
        assert any(x.startswith(".tmp-") for x in os.listdir(layers))
        d.kill9()
        t.join()
        assert errors, "the pull finished before the daemon was killed"

        # Leftovers of the crash, plus planted strays: all cleaned at start.
        os.makedirs(os.path.join(layers, ".tmp-planted/fs/x"), exist_ok=True)
        os.makedirs(os.path.join(layers, "f" * 64, "fs"), exist_ok=True)
        with open(os.path.join(d.root, "content", "tmp", "planted"), "w") as f:
            f.write("junk")
        d.start()
        assert list(d.image().ListImages(pb.ListImagesRequest()).images) == []
        left = os.listdir(layers)
        assert [x for x in left if x.startswith(".tmp") or x == "f" * 64] == []
        assert os.listdir(os.path.join(d.root, "content", "tmp")) == []
        assert "removed stray" in d.log()

        proxy.enabled = False
        got = d.image().PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=120)
        assert got.image_ref == img.id
        assert len(os.listdir(layers)) == 4
        st = d.image().ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=ref))).image
        assert st.id == img.id and st.size > 12 << 20
    finally:
        proxy.stop()
