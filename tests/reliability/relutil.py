"""Helpers of the reliability harness shared by its test modules (fixtures
live in conftest.py)."""
import json
import os
import time

from cric_integration_conftest import BUILD  # noqa: F401  (the build under test)


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


def figures(name, **values):
    """Prints one line of figures and appends it (JSON) to CRIC_REL_FIGURES."""
    values = {"test": name, "build": os.path.basename(BUILD.rstrip("/")), **values}
    line = json.dumps(values, sort_keys=True)
    print("\nFIGURES " + line, flush=True)
    path = os.environ.get("CRIC_REL_FIGURES", "/tmp/cric-reliability-figures.jsonl")
    with open(path, "a") as f:
        f.write(line + "\n")


def install_net(d, net, conflist=None):
    with open(os.path.join(d.cni_dir, "10-cric-rel.conflist"), "w") as f:
        json.dump(conflist or net["conflist"], f)


def daemon_rss_kb(d):
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def daemon_rss_detail(d):
    """VmRSS split into anonymous, file-backed and shared memory (kB)."""
    out = {}
    with open("/proc/%d/status" % d.proc.pid) as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def cpu_split(d):
    """CPU seconds so far: the daemon itself, its reaped children (ExecSync's
    probe commands are the daemon's children), this test process (the RPC
    clients) and the whole machine's busy time."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/%d/stat" % d.proc.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open("/proc/stat") as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    me = os.times()
    return {"daemon": (int(fields[11]) + int(fields[12])) / tick,
            "daemon_children": (int(fields[13]) + int(fields[14])) / tick,
            "clients": me.user + me.system,
            "machine": (sum(cpu[:8]) - cpu[3] - cpu[4]) / tick}


def cpu_split_per(before, after, n):
    """Milliseconds of CPU per event between two cpu_split readings; "other"
    is what the machine spent outside the three (shims, kernel threads...)."""
    per = {k: round((after[k] - before[k]) * 1000 / max(1, n), 3) for k in before}
    per["other"] = round(per["machine"] - per["daemon"] - per["daemon_children"] -
                         per["clients"], 3)
    return per


def daemon_fds(d):
    return len(os.listdir("/proc/%d/fd" % d.proc.pid))


def wait_until(fn, timeout=30.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def percentile(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]
