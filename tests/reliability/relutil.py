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
