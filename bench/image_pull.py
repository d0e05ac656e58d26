#!/usr/bin/python3
"""Pull+unpack throughput of a large multi-layer image (default 200 MB in 5
gzip layers of random data, so compression does not flatter anyone) from a
local registry, for cric (release build) and, with --with-containerd, Debian's
containerd CRI (../shared/tools/containerd-anchor.sh) in the same run, on the
same image. Each run pulls into an empty store: the image is removed (with its
layers) before the next run. Also reports the runtime's RSS growth during the
pull and the peak RSS of cric's transfer helper (cric-pull), a separate
short-lived process.

  bench/image_pull.py [--with-containerd] [--runs N] [--size-mb MB] [--layers N]

Needs 127.0.0.1:5000 for containerd's mirror config: an existing registry
there is used, else Debian's docker-registry is started on it. Prints one
JSON object per runtime and a ratio line."""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
sys.path.insert(0, os.path.join(REPO, "bench"))
TOOLS = os.path.join(os.path.dirname(REPO), "shared", "tools")


def listening(port):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def socket_owner(path):
    """pid of the process listening on a unix socket (None when nobody)."""
    out = subprocess.run(["ss", "-xlpn"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) > 4 and f[4] == path and "pid=" in line:
            return int(line.split("pid=")[1].split(",")[0])
    return None


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return int(f.read().split("VmRSS:")[1].split()[0])
    except (OSError, IndexError):
        return 0


def helpers_rss_kb(pid):
    """RSS of the runtime's transfer helpers (cric-pull children; containerd has none)."""
    total = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        if st[st.index("(") + 1:st.rindex(")")] == "cric-pull" and \
                int(st[st.rindex(")") + 2:].split()[1]) == pid:
            total += rss_kb(int(p))
    return total


def measure(endpoint, pid, ref, runs, label, total_bytes):
    import grpc
    import cri_pb2 as pb
    import cri_pb2_grpc as pbg
    im = pbg.ImageServiceStub(grpc.insecure_channel(endpoint))
    spec = pb.ImageSpec(image=ref)
    im.RemoveImage(pb.RemoveImageRequest(image=spec), timeout=120)
    secs, growth, helper = [], [], []
    for _ in range(runs):
        time.sleep(0.5)
        base = rss_kb(pid)
        peak = [base]
        hpeak = [0]
        stop = [False]

        def sample():
            while not stop[0]:
                peak[0] = max(peak[0], rss_kb(pid))
                hpeak[0] = max(hpeak[0], helpers_rss_kb(pid))
                time.sleep(0.01)
        t = threading.Thread(target=sample)
        t.start()
        t0 = time.monotonic()
        im.PullImage(pb.PullImageRequest(image=spec), timeout=600)
        secs.append(time.monotonic() - t0)
        stop[0] = True
        t.join()
        growth.append((peak[0] - base) / 1024.0)
        helper.append(hpeak[0] / 1024.0)
        im.RemoveImage(pb.RemoveImageRequest(image=spec), timeout=120)
    best = min(secs)
    med = sorted(secs)[len(secs) // 2]
    return {"runtime": label, "runs": runs, "image_mb": round(total_bytes / 1e6, 1),
            "best_s": round(best, 3), "median_s": round(med, 3),
            "throughput_mb_s": round(total_bytes / 1e6 / med, 1),
            "rss_growth_mb_max": round(max(growth), 1),
            "helper_peak_rss_mb": round(max(helper), 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--with-containerd", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--layers", type=int, default=5)
    a = ap.parse_args()
    from sandbox import stubs
    stubs()
    from registry import Layer, Registry

    build = os.environ.get("CRIC_RELEASE_BUILD_DIR", os.path.join(REPO, "build"))
    cric = os.path.join(build, "src", "daemon", "cric")
    if not os.access(cric, os.X_OK):
        subprocess.run(["make", "-C", REPO, "build"], check=True, stdout=subprocess.DEVNULL)

    reg = None
    if not listening(5000):
        reg = Registry()
        reg.port, reg.host = 5000, "127.0.0.1:5000"
        reg.start()
    else:
        reg = Registry()  # someone else's: only push to it
        shutil.rmtree(reg.dir, ignore_errors=True)
        reg.port, reg.host = 5000, "127.0.0.1:5000"
    tag = uuid.uuid4().hex[:12]
    per = a.size_mb * 1000 * 1000 // a.layers
    layers = [Layer().file("data/blob%d" % i, os.urandom(per)).finish("gzip")
              for i in range(a.layers)]
    pushed = reg.push("bench/pull", [tag], layers)
    total = sum(len(b) for _, b, _ in layers)
    ref = "localhost:5000/bench/pull:" + tag

    results = []
    work = tempfile.mkdtemp(prefix="cric-bench-pull-", dir="/var/tmp")
    state = tempfile.mkdtemp(prefix="cric-bench-pull-", dir="/run")
    proc = None
    try:
        sock = os.path.join(work, "cric.sock")
        cfgp = os.path.join(work, "config.json")
        with open(cfgp, "w") as f:
            json.dump({"cni": {"conf_dir": os.path.join(work, "cni")}}, f)
        os.makedirs(os.path.join(work, "cni"))
        proc = subprocess.Popen([cric, "--config", cfgp, "--listen", sock, "--root",
                                 os.path.join(work, "root"), "--state", state, "--log-level",
                                 "warn"])
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        time.sleep(0.5)
        idle = rss_kb(proc.pid)
        r = measure("unix://" + sock, proc.pid, ref, a.runs, "cric", total)
        r["idle_rss_mb"] = round(idle / 1024.0, 1)
        print(json.dumps(r), flush=True)
        results.append(r)
        if a.with_containerd:
            sockpath = "/run/containerd-anchor/containerd.sock"
            cpid = socket_owner(sockpath)
            if cpid is None:  # not running yet: start it (it keeps running afterwards)
                subprocess.run([os.path.join(TOOLS, "containerd-anchor.sh"), "start"],
                               capture_output=True, text=True, check=True)
                cpid = socket_owner(sockpath)
            ep = "unix://" + sockpath
            r = measure(ep, cpid, ref, a.runs, "containerd", total)
            print(json.dumps(r), flush=True)
            results.append(r)
            c, d = results
            print("ratio cric/containerd throughput: %.2fx (median %.2fs vs %.2fs)" % (
                c["throughput_mb_s"] / d["throughput_mb_s"], c["median_s"], d["median_s"]))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(state, ignore_errors=True)
        if reg is not None and reg.proc is not None:
            reg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
