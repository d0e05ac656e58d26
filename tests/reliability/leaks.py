"""What a cric daemon may leave on the host, in one snapshot: mounts under its
root and state, network namespaces, veths on its test bridge, cgroup dirs
under its cgroup parents (every v1 hierarchy and the v2 mount), host-local
IPAM leases, cric-shim / cric-pause / OCI runtime processes, database rows
and files in root/state that no object owns.

`snapshot(...)` is usable at any time (e.g. as a baseline); `check_clean(...)`
asserts that nothing is left once every pod was removed."""
import os
import sqlite3
import subprocess

CGROUP_ROOT = "/sys/fs/cgroup"


def _sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=False).stdout


def mounts_under(*prefixes):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if any(mp == p or mp.startswith(p.rstrip("/") + "/") for p in prefixes):
                out.append(mp)
    return sorted(out)


def netns_names():
    """Named network namespaces (ip netns); cric pins its own under state, which
    shows up as nsfs mounts instead."""
    return sorted(l.split()[0] for l in _sh("ip", "netns", "list").splitlines() if l.strip())


def veths_on(bridge):
    if not bridge:
        return []
    out = []
    for line in _sh("ip", "-o", "link", "show", "master", bridge).splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            out.append(parts[1].strip().split("@")[0])
    return sorted(out)


def cgroup_dirs(prefix):
    """Every dir named prefix* at the top of each cgroup hierarchy, with all
    their descendants (e.g. prefix="cric-rel-ab12")."""
    out = []
    if not prefix:
        return out
    for h in sorted(os.listdir(CGROUP_ROOT)):
        base = os.path.join(CGROUP_ROOT, h)
        try:
            tops = [x for x in os.listdir(base) if x.startswith(prefix)]
        except OSError:
            continue
        for t in tops:
            for dp, dn, _ in os.walk(os.path.join(base, t)):
                out.append(dp)
    return sorted(out)


def ipam_leases(ipam_dir):
    out = []
    if not ipam_dir or not os.path.isdir(ipam_dir):
        return out
    for net in sorted(os.listdir(ipam_dir)):
        d = os.path.join(ipam_dir, net)
        if os.path.isdir(d):
            out += ["%s/%s" % (net, x) for x in sorted(os.listdir(d))
                    if x[:1].isdigit() or ":" in x]
    return out


def processes(state):
    """cric-shim, cric-pause and OCI runtime processes that belong to this daemon
    (their command line names its state dir)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        exe = os.path.basename(argv[0].decode(errors="replace"))
        text = b" ".join(argv).decode(errors="replace")
        if exe in ("cric-shim", "cric-pause", "crun", "runc", "conmon") and state in text:
            out.append("%s %s" % (pid, exe))
    return sorted(out)


def db_rows(root):
    path = os.path.join(root, "cric.db")
    if not os.path.exists(path):
        return {}
    out = {}
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        for table in ("sandboxes", "containers", "layer_holds"):
            try:
                out[table] = db.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
            except sqlite3.Error:
                pass
    finally:
        db.close()
    return out


# Files of a daemon with no pods or containers (images stay): anything else in
# root/state is owned by no object.
_ROOT_KEEP = ("cric.db", "cric.db-wal", "cric.db-shm", "cric.db-journal", "cric.lock",
              "layers.lock")
_ROOT_KEEP_DIRS = ("content", "layers", "containers", "tmp", "pull", "import")


def stray_files(root, state, sock=None):
    out = []
    if os.path.isdir(root):
        for x in os.listdir(root):
            p = os.path.join(root, x)
            if x in _ROOT_KEEP or (x in _ROOT_KEEP_DIRS and x not in ("containers",)):
                continue
            if x == "containers":
                out += [os.path.join(p, y) for y in os.listdir(p)]
                continue
            out.append(p)
        # temporary files of interrupted pulls
        for sub in ("content/tmp",):
            d = os.path.join(root, sub)
            if os.path.isdir(d):
                out += [os.path.join(d, y) for y in os.listdir(d)]
        d = os.path.join(root, "layers")
        if os.path.isdir(d):
            out += [os.path.join(d, y) for y in os.listdir(d) if y.startswith(".")]
    if os.path.isdir(state):
        for x in os.listdir(state):
            p = os.path.join(state, x)
            if x in ("sandboxes", "containers", "exec-sync"):
                out += [os.path.join(p, y) for y in os.listdir(p)]
            elif x == "runtime":
                # the OCI runtimes' state roots: one dir per live container
                for h in os.listdir(p):
                    hp = os.path.join(p, h)
                    if os.path.isdir(hp):
                        out += [os.path.join(hp, y) for y in os.listdir(hp)
                                if not y.startswith(".")]
            elif sock and p == sock:
                continue
            else:
                out.append(p)
    return sorted(out)


def snapshot(d, bridge=None, ipam_dir=None, cgroup_prefix=None):
    """d: tests/integration Daemon (root, state, sock)."""
    return {
        "mounts": mounts_under(d.root, d.state),
        "netns": netns_names(),
        "veths": veths_on(bridge),
        "cgroups": cgroup_dirs(cgroup_prefix),
        "leases": ipam_leases(ipam_dir),
        "processes": processes(d.state),
        "rows": db_rows(d.root),
        "files": stray_files(d.root, d.state, d.sock),
    }


def leaks(snap, baseline=None):
    """What snap has beyond a clean daemon (and beyond baseline, for the host-wide
    lists netns/veths): {kind: [items]} with only the non-empty kinds."""
    base = baseline or {}
    out = {}
    for k in ("mounts", "netns", "veths", "cgroups", "leases", "processes", "files"):
        extra = [x for x in snap.get(k, []) if x not in base.get(k, [])]
        if k == "mounts":
            # the private bind mount of the sandboxes dir lives as long as the daemon
            extra = [x for x in extra if not x.endswith("/sandboxes")]
        if extra:
            out[k] = extra
    rows = {t: n - base.get("rows", {}).get(t, 0) for t, n in snap.get("rows", {}).items()}
    rows = {t: n for t, n in rows.items() if n > 0}
    if rows:
        out["rows"] = rows
    return out


def count(lk):
    return sum(len(v) if isinstance(v, list) else sum(v.values()) for v in lk.values())


def check_clean(d, baseline=None, **kw):
    snap = snapshot(d, **kw)
    lk = leaks(snap, baseline)
    assert not lk, "leaked after removing everything: %r" % lk
    return snap
