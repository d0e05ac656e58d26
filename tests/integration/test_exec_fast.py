"""ExecSync fast path (the daemon's direct children, src/ctr/enter_direct.c,
or cric-enter where those could block) against the OCI runtime's exec: the same probe
runs in the same container through both paths (the daemon restarted with
exec_fast_path on and off; containers outlive the daemon) and everything the
process can observe about its confinement must match: ids and groups, the five
capability sets, no_new_privs, seccomp mode and filter count, what seccomp
blocks (unshare, sethostname), namespaces, cgroups, cwd, umask, env, rlimits,
oom_score_adj, the PID namespace and a read-only rootfs. crun and runc."""
import difflib
import json
import os
import re

import pytest

from test_container import Env, images  # noqa: F401  (images is a fixture)

PROBE = r"""
for k in Uid Gid Groups CapInh CapPrm CapEff CapBnd CapAmb NoNewPrivs Seccomp Seccomp_filters; do
  grep "^$k:" /proc/self/status
done
echo "pid-in-proc $([ -d /proc/$$ ] && readlink /proc/self >/dev/null && echo yes || echo no)"
echo "init $(tr '\0' ' ' < /proc/1/cmdline)"
for n in cgroup ipc mnt net pid pid_for_children time uts user; do
  echo "ns $n $(readlink /proc/self/ns/$n)"
done
echo "cgroups:"; cat /proc/self/cgroup
echo "cwd $(pwd)"
echo "umask $(umask)"
echo "oom $(cat /proc/self/oom_score_adj)"
echo "ppid-outside $(grep -c '^PPid:[[:space:]]0$' /proc/$$/status)"
echo "limits:"; cat /proc/self/limits
echo "env:"; env | grep -v -e '^PWD=' -e '^SHLVL=' -e '^_=' | sort
hostname "$(hostname)" 2>/dev/null; echo "sethostname rc=$?"
unshare -u true 2>/dev/null; echo "unshare rc=$?"
touch /.probe-rootfs 2>/dev/null; echo "write-rootfs rc=$?"; rm -f /.probe-rootfs
echo "id $(id)"
"""

SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"]


def set_fast(d, on):
    cfg = dict(d.config)
    cfg["exec_fast_path"] = on
    d.config = cfg
    with open(d.config_path, "w") as f:
        json.dump(cfg, f)


def restart(d, fast):
    d._channel = None
    d.stop()
    set_fast(d, fast)
    d.start()


def probe(e, cid):
    r = e.exec(cid, ["sh", "-c", PROBE], timeout=30)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r.stdout.decode()


def path_used(d, cid, since):
    """Which path the daemon's debug log says the last ExecSync of cid took."""
    text = d.log()[since:]
    hits = re.findall(r"container %s: ExecSync through (\S+)" % cid[:12], text)
    assert hits, "no ExecSync log line for %s" % cid
    return os.path.basename(hits[-1])


def variants(pb, e):
    """(name, pod privileged, ContainerConfig kwargs, fast path expected)."""
    sc = pb.LinuxContainerSecurityContext
    default_seccomp = pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault)
    yield ("plain", False, {}, True)
    yield ("restricted", False, dict(
        image="ctr-user", working_dir="/home/app",
        envs=[pb.KeyValue(key="PROBE", value=b"x y"), pb.KeyValue(key="HOME", value=b"/h")],
        linux=pb.LinuxContainerConfig(security_context=sc(
            run_as_user=pb.Int64Value(value=1000), run_as_group=pb.Int64Value(value=1000),
            supplemental_groups=[2000, 3000], readonly_rootfs=True, no_new_privs=True,
            seccomp=default_seccomp,
            capabilities=pb.Capability(add_capabilities=["NET_ADMIN"],
                                       drop_capabilities=["CHOWN", "KILL"],
                                       add_ambient_capabilities=["NET_BIND_SERVICE"]))),
    ), e.handler == "crun")
    yield ("seccomp-root", False, dict(linux=pb.LinuxContainerConfig(security_context=sc(
        seccomp=default_seccomp, capabilities=pb.Capability(add_capabilities=["SYS_ADMIN"])))),
        e.handler == "crun")
    yield ("privileged", True, dict(linux=pb.LinuxContainerConfig(
        security_context=sc(privileged=True))), True)


@pytest.mark.parametrize("handler", ["crun", "runc"])
def test_fast_path_matches_runtime_exec(make_daemon, pb, images, handler):  # noqa: F811
    d = make_daemon()
    e = Env(d, pb, images, handler)
    try:
        made = []
        for name, priv, kw, fast in variants(pb, e):
            sid = e.pod(privileged=priv)
            cid = e.run(sid, e.config(name, SLEEPER, **kw))
            made.append((name, cid, fast))
        fast_out = {}
        for name, cid, fast in made:
            mark = len(d.log())
            fast_out[cid] = probe(e, cid)
            assert path_used(d, cid, mark) == ("direct" if fast else handler), name
        restart(d, False)
        e.rt = d.runtime()
        for name, cid, fast in made:
            mark = len(d.log())
            slow = probe(e, cid)
            assert path_used(d, cid, mark) == handler
            diff = "\n".join(difflib.unified_diff(fast_out[cid].splitlines(), slow.splitlines(),
                                                  "direct", handler + " exec", lineterm=""))
            assert not diff, "%s (%s): the fast path differs:\n%s" % (name, handler, diff)
        # what the probe shows is the container's, not the daemon's
        outs = {name: fast_out[cid] for name, cid, _ in made}
        me = os.readlink("/proc/self/ns/pid")
        for name, text in outs.items():
            assert "pid-in-proc yes" in text and "ppid-outside 1" in text, name
            assert "ns pid %s" % me not in text, name
            assert "init sh -c trap" in text, name
        r = outs["restricted"]
        if handler == "crun":
            assert "Uid:\t1000\t1000\t1000\t1000" in r and "NoNewPrivs:\t1" in r
            assert "Seccomp:\t2" in r and "write-rootfs rc=1" in r
            assert "unshare rc=1" in r and "sethostname rc=1" in r
            assert "PROBE=x y" in r and "cwd /home/app" in r
        p = outs["privileged"]
        assert "Seccomp:\t0" in p and "sethostname rc=0" in p and "write-rootfs rc=0" in p
        # after a daemon restart the fast path finds the running containers again
        restart(d, True)
        e.rt = d.runtime()
        for name, cid, fast in made:
            mark = len(d.log())
            again = probe(e, cid)
            assert path_used(d, cid, mark) == ("direct" if fast else handler), name
            assert again == fast_out[cid], name
    finally:
        e.cleanup()


def test_fast_path_exit_codes_output_and_timeout(make_daemon, pb, images):  # noqa: F811
    """Through the direct path: exit codes, signals, missing commands, big
    output, stdin closed, timeouts that leave no process behind."""
    import grpc
    import time
    d = make_daemon()
    e = Env(d, pb, images, "crun")
    try:
        sid = e.pod()
        # an oom_score_adj of its own: the direct path's children share the
        # daemon's memory, yet the daemon's own value must stay as it was
        res = pb.LinuxContainerResources(oom_score_adj=700)
        cid = e.run(sid, e.config("x", ["top"], linux=pb.LinuxContainerConfig(resources=res)))
        daemon_oom = open("/proc/%d/oom_score_adj" % d.proc.pid).read()
        mark = len(d.log())
        r = e.exec(cid, ["sh", "-c", "echo o; echo e >&2; exit 7"])
        assert (r.stdout, r.stderr, r.exit_code) == (b"o\n", b"e\n", 7)
        assert path_used(d, cid, mark) == "direct"
        assert e.exec(cid, ["cat", "/proc/self/oom_score_adj"]).stdout == b"700\n"
        assert open("/proc/%d/oom_score_adj" % d.proc.pid).read() == daemon_oom
        r = e.exec(cid, ["sh", "-c", "kill -TERM $$"])
        assert r.exit_code == 128 + 15
        r = e.exec(cid, ["no-such-command"])
        assert r.exit_code == 127 and b"no-such-command" in r.stderr
        r = e.exec(cid, ["/etc/passwd"])
        assert r.exit_code == 126
        r = e.exec(cid, ["cat"])  # stdin is /dev/null
        assert r.exit_code == 0 and r.stdout == b""
        r = e.exec(cid, ["sh", "-c", "head -c 3000000 /dev/zero; head -c 5 /dev/zero >&2"])
        assert len(r.stdout) == 3000000 and len(r.stderr) == 5
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as err:
            e.exec(cid, ["sleep", "4321"], timeout=1)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - t0 < 5
        r = e.exec(cid, ["sh", "-c", "pgrep sleep || true"], timeout=10)
        assert r.stdout.strip() == b""
        assert os.popen("pgrep -f 'slee[p] 4321'").read().strip() == ""
        left = os.popen("pgrep -x cric-enter").read().strip()
        assert left == "", os.popen("ps -o pid,ppid,stat,args -p %s; ps -ef | grep -v grep | grep -e cric-enter -e 'sleep 4321'" % left.split()[0]).read()
        # a stopped container: FAILED_PRECONDITION-like error, never an entry
        e.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=0))
        with pytest.raises(grpc.RpcError) as err:
            e.exec(cid, ["true"])
        assert err.value.code() != grpc.StatusCode.OK
    finally:
        e.cleanup()


def v1_cgroup_dir(pid, controller):
    """The directory of pid's cgroup in a v1 hierarchy, or None."""
    mounts = {}
    for line in open("/proc/mounts"):
        f = line.split()
        if f[2] == "cgroup":
            for opt in f[3].split(","):
                mounts.setdefault(opt, f[1])
    for line in open("/proc/%d/cgroup" % pid):
        _, ctrls, path = line.rstrip("\n").split(":", 2)
        if controller in ctrls.split(",") and controller in mounts:
            return mounts[controller] + path
    return None


def test_cric_enter_where_the_direct_path_could_block(make_daemon, pb, images):  # noqa: F811
    """A cpuset that migrates memory (joining it would move the daemon's
    pages) and a frozen container (joining its freezer would hold a daemon
    thread): ExecSync goes through cric-enter; frozen, it times out while the
    daemon keeps answering, and the command runs once thawed."""
    import grpc
    import threading
    import time
    d = make_daemon()
    e = Env(d, pb, images, "crun")
    try:
        sid = e.pod()
        cid = e.run(sid, e.config("x", SLEEPER))
        pid = json.loads(e.status(cid, verbose=True).info["info"])["pid"]
        cpuset = v1_cgroup_dir(pid, "cpuset")
        freezer = v1_cgroup_dir(pid, "freezer")
        if not cpuset or not freezer:
            pytest.skip("no v1 cpuset and freezer hierarchies")
        mark = len(d.log())
        assert e.exec(cid, ["echo", "a"]).stdout == b"a\n"
        assert path_used(d, cid, mark) == "direct"

        with open(os.path.join(cpuset, "cpuset.memory_migrate"), "w") as f:
            f.write("1")
        mark = len(d.log())
        assert e.exec(cid, ["echo", "b"]).stdout == b"b\n"
        assert path_used(d, cid, mark) == "cric-enter"
        assert "migrates memory" in d.log()[mark:]
        with open(os.path.join(cpuset, "cpuset.memory_migrate"), "w") as f:
            f.write("0")

        state = os.path.join(freezer, "freezer.state")
        with open(state, "w") as f:
            f.write("FROZEN")
        try:
            got = {}

            def frozen_exec():
                try:
                    got["r"] = e.exec(cid, ["echo", "c"], timeout=1)
                except grpc.RpcError as err:
                    got["err"] = err
            mark = len(d.log())
            t = threading.Thread(target=frozen_exec)
            t.start()
            time.sleep(2.5)
            # the daemon still answers while that exec waits on the frozen container
            t0 = time.monotonic()
            assert d.runtime().ListContainers(pb.ListContainersRequest(), timeout=10).containers
            assert time.monotonic() - t0 < 5
            assert path_used(d, cid, mark) == "cric-enter"
        finally:
            with open(state, "w") as f:
                f.write("THAWED")
        t.join(30)
        assert not t.is_alive()
        assert "err" in got and got["err"].code() == grpc.StatusCode.DEADLINE_EXCEEDED
        mark = len(d.log())
        assert e.exec(cid, ["echo", "d"]).stdout == b"d\n"
        assert path_used(d, cid, mark) == "direct"
    finally:
        e.cleanup()


PTRACE_ATTACH, PTRACE_DETACH, PTRACE_SECCOMP_GET_FILTER = 16, 17, 0x420c


def seccomp_programs(pid):
    """The seccomp programs of a process, newest first (PTRACE_SECCOMP_GET_FILTER)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    assert libc.ptrace(PTRACE_ATTACH, pid, None, None) == 0, os.strerror(ctypes.get_errno())
    progs = []
    try:
        os.waitpid(pid, 0)
        for i in range(16):
            n = libc.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, ctypes.c_void_p(i), None)
            if n < 0:
                break
            buf = ctypes.create_string_buffer(n * 8)
            assert libc.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, ctypes.c_void_p(i), buf) == n
            progs.append(buf.raw)
    finally:
        libc.ptrace(PTRACE_DETACH, pid, None, None)
    return progs


def exec_and_dump(e, cid, marker):
    """Runs `sleep <marker>` by ExecSync and returns its seccomp programs."""
    import threading
    import time
    t = threading.Thread(target=lambda: e.exec(cid, ["sleep", marker], timeout=60))
    t.start()
    want = ("sleep\0%s\0" % marker).encode()
    pid = None
    for _ in range(200):
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    if open("/proc/%s/cmdline" % p, "rb").read() == want:
                        pid = int(p)
                except OSError:
                    pass
        if pid:
            break
        time.sleep(0.05)
    assert pid, "the exec'd sleep did not show up"
    try:
        return seccomp_programs(pid)
    finally:
        os.kill(pid, 9)
        t.join(30)


def test_fast_path_loads_the_program_crun_exec_loads(make_daemon, pb, images):  # noqa: F811
    """Byte for byte: the seccomp programs of a process started by cric-enter
    and of one started by `crun exec`, with and without no_new_privs."""
    d = make_daemon()
    e = Env(d, pb, images, "crun")
    try:
        made = []
        for name, priv, kw, fast in variants(pb, e):
            if name in ("restricted", "seccomp-root"):
                sid = e.pod(privileged=priv)
                made.append((name, e.run(sid, e.config(name, SLEEPER, **kw))))
        fast = {cid: exec_and_dump(e, cid, "4243") for _, cid in made}
        restart(d, False)
        e.rt = d.runtime()
        for name, cid in made:
            slow = exec_and_dump(e, cid, "4244")
            assert len(slow) == 1 and len(slow[0]) > 100, name
            assert fast[cid] == slow, name
    finally:
        e.cleanup()


def test_exec_sync_output_fits_the_message_limit(make_daemon, pb, images):  # noqa: F811
    """Each stream is capped at 16 MiB, and both together are cut to what one
    16 MiB response holds (the kubelet's receive limit): the beginnings stay."""
    import grpc
    d = make_daemon()
    e = Env(d, pb, images, "crun")
    ch = grpc.insecure_channel("unix://" + d.sock,
                               options=[("grpc.max_receive_message_length", 64 << 20)])
    try:
        sid = e.pod()
        cid = e.run(sid, e.config("big", ["top"]))
        rt = ch.unary_unary("/runtime.v1.RuntimeService/ExecSync",
                            request_serializer=pb.ExecSyncRequest.SerializeToString,
                            response_deserializer=pb.ExecSyncResponse.FromString)
        limit = 16 << 20
        both = "head -c 12000000 /dev/zero | tr '\\0' o; head -c 12000000 /dev/zero | tr '\\0' e >&2"
        for cmd, out_len, err_len in (
                (both, (limit - 64) // 2, limit - 64 - (limit - 64) // 2),
                ("head -c 20000000 /dev/zero | tr '\\0' o; echo err >&2", limit - 64 - 4, 4),
                ("echo out; head -c 20000000 /dev/zero | tr '\\0' e >&2", 4, limit - 64 - 4)):
            r = rt(pb.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", cmd], timeout=60),
                   timeout=120)
            assert (len(r.stdout), len(r.stderr), r.exit_code) == (out_len, err_len, 0), cmd
            assert r.stdout[:4] in (b"oooo", b"out\n") and r.stderr[:4] in (b"eeee", b"err\n")
    finally:
        ch.close()
        e.cleanup()


def test_direct_exec_returns_the_thread_to_our_pid_namespace(make_daemon, pb, images, tmp_path):  # noqa: F811,E501
    """The direct path moves the calling worker thread into the container's
    PID namespace for its children while it clones the command, and back at
    once. Were it left there, every later process the thread starts (the
    OCI runtime, shims) would be born in that container. A runtime wrapper
    records the PID namespace it starts in, on every call of four workers
    that ran direct ExecSyncs into pods with PID namespaces of their own."""
    record = tmp_path / "pidns"
    wrapper = tmp_path / "crun-recording"
    wrapper.write_text("#!/bin/sh\nreadlink /proc/self/ns/pid >> %s\n"
                       "exec /usr/bin/crun \"$@\"\n" % record)
    wrapper.chmod(0o755)
    d = make_daemon(config={"grpc": {"workers": 4}, "runtimes": {
        "default": "crun", "handlers": {"crun": {"path": "/usr/bin/crun"},
                                        "recording": {"path": str(wrapper)}}}})
    e = Env(d, pb, images, "recording")
    try:
        ours = os.readlink("/proc/self/ns/pid")
        cids = []
        for _ in range(2):
            sid = e.pod(pid=pb.POD)
            for k in range(2):
                cid = e.create(sid, e.config("c%d" % k, SLEEPER))
                e.rt.StartContainer(pb.StartContainerRequest(container_id=cid))
                cids.append(cid)
        since = len(d.log())
        for _ in range(6):
            for cid in cids:
                init = json.loads(e.status(cid, verbose=True).info["info"])["pid"]
                r = e.exec(cid, ["readlink", "/proc/self/ns/pid"])
                assert r.stdout.decode().strip() == os.readlink("/proc/%d/ns/pid" % init) != ours
        assert all(path_used(d, cid, since) == "direct" for cid in cids)
        for cid in cids:  # the runtime's kill and delete, from the same workers
            e.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=0))
            e.remove(cid)
        seen = record.read_text().split()
        assert len(seen) >= 4 * len(cids) and set(seen) == {ours}, seen
    finally:
        e.cleanup()
