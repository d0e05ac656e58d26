"""Containers end to end: real registry images (busybox), real pod sandboxes
(host network unless networking is the point), real crun and runc through
cric-shim. Checks what the processes inside see, the CRI log files, status,
list filters, ExecSync, stop grace periods, OOM kills and cleanup."""
import concurrent.futures
import glob
import json
import sqlite3
import subprocess
import os
import time
import uuid

import grpc
import pytest

from registry import Layer, busybox_layer_cached

RUNTIMES = ["crun", "runc"]

PASSWD = (b"root:x:0:0:root:/root:/bin/sh\n"
          b"app:x:1000:1000:app:/home/app:/bin/sh\n"
          b"nobody:x:65534:65534::/:/bin/false\n")
GROUP = b"root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n"


@pytest.fixture(scope="module")
def images(registry):
    """busybox plus images with their own Entrypoint/Cmd/Env/WorkingDir/User/StopSignal."""
    bb = busybox_layer_cached()
    users = Layer().dir("etc").file("etc/passwd", PASSWD).file("etc/group", GROUP) \
        .dir("home").dir("home/app", 0o755, 1000, 1000).dir("work").finish("gzip")
    registry.push("ctr-entry", ["latest"], [bb, users],
                  config={"Entrypoint": ["echo", "entry"], "Cmd": ["cmd1", "cmd2"],
                          "Env": ["PATH=/bin:/usr/bin", "IMG=img", "OVER=image"],
                          "WorkingDir": "/work"})
    registry.push("ctr-user", ["latest"], [bb, users], user="app")
    registry.push("ctr-uid", ["latest"], [bb, users], user="1000:2000")
    registry.push("ctr-stopsig", ["latest"], [bb, users],
                  config={"StopSignal": "SIGUSR1", "Volumes": {"/data": {}}})
    return {n: registry.ref(n + ":latest") for n in
            ("busybox", "ctr-entry", "ctr-user", "ctr-uid", "ctr-stopsig")}


class Env:
    """One daemon with the test images pulled; helpers for pods and containers."""

    def __init__(self, d, pb, images, handler):
        self.d, self.pb, self.images, self.handler = d, pb, images, handler
        self.rt = d.runtime()
        self.pods = []
        self.logdir = os.path.join(d.base, "logs")
        for ref in images.values():
            d.image().PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=120)

    def pod(self, name=None, privileged=False, pid=None):
        pb = self.pb
        name = name or "p-" + uuid.uuid4().hex[:8]
        ns = pb.NamespaceOption(network=pb.NODE, ipc=pb.POD,
                                pid=pb.CONTAINER if pid is None else pid)
        cfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace="cric-test",
                                           uid=uuid.uuid4().hex),
            hostname=name, log_directory=os.path.join(self.logdir, name),
            linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=ns, privileged=privileged)))
        sid = self.rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg,
                                                            runtime_handler=self.handler),
                                    timeout=60).pod_sandbox_id
        self.pods.append(sid)
        return sid

    def cleanup(self):
        """Containers outlive the daemon by design: remove every pod (and with it
        its containers, mounts and shims) before the daemon fixture stops."""
        if self.d.proc is None or self.d.proc.poll() is not None:
            return
        rt = self.d.runtime()
        for sid in self.pods:
            rt.StopPodSandbox(self.pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=120)
            rt.RemovePodSandbox(self.pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=120)
        assert len(rt.ListContainers(self.pb.ListContainersRequest()).containers) == 0

    def config(self, name, cmd=None, args=None, image="busybox", **kw):
        pb = self.pb
        linux = kw.pop("linux", None) or pb.LinuxContainerConfig()
        return pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name, attempt=0),
                                  image=pb.ImageSpec(image=self.images.get(image, image)),
                                  command=cmd or [], args=args or [],
                                  log_path="%s/0.log" % name, linux=linux, **kw)

    def create(self, sid, cfg):
        return self.rt.CreateContainer(self.pb.CreateContainerRequest(pod_sandbox_id=sid,
                                                                      config=cfg),
                                       timeout=60).container_id

    def run(self, sid, cfg):
        cid = self.create(sid, cfg)
        self.rt.StartContainer(self.pb.StartContainerRequest(container_id=cid), timeout=60)
        return cid

    def status(self, cid, verbose=False):
        return self.rt.ContainerStatus(self.pb.ContainerStatusRequest(container_id=cid,
                                                                      verbose=verbose))

    def wait_exit(self, cid, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status(cid).status
            if st.state == self.pb.CONTAINER_EXITED:
                return st
            time.sleep(0.05)
        raise AssertionError("container %s did not exit" % cid)

    def exec(self, cid, cmd, timeout=0):
        return self.rt.ExecSync(self.pb.ExecSyncRequest(container_id=cid, cmd=cmd,
                                                        timeout=timeout), timeout=60)

    def output(self, sid, cfg):
        """Runs a container to its end; its stdout lines (from the CRI log)."""
        cid = self.run(sid, cfg)
        st = self.wait_exit(cid)
        return st, [l.split(" ", 3)[3] for l in open(st.log_path).read().splitlines()
                    if l.split(" ", 3)[1] == "stdout"]

    def remove(self, cid):
        self.rt.RemoveContainer(self.pb.RemoveContainerRequest(container_id=cid), timeout=60)


def half_made_container(d, pb, sid):
    """What a daemon killed in the middle of CreateContainer leaves: the row in state
    "creating", the writable layer dir and the bundle with the rootfs mounted."""
    cid = uuid.uuid4().hex * 2
    bundle = os.path.join(d.state, "containers", cid)
    wdir = os.path.join(d.root, "containers", cid)
    os.makedirs(os.path.join(bundle, "rootfs"))
    os.makedirs(os.path.join(wdir, "upper"))
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", os.path.join(bundle, "rootfs")], check=True)
    cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="half")).SerializeToString()
    data = {"image": "x", "image_id": "", "image_ref": "", "handler": "crun",
            "runtime": "/usr/bin/crun", "runtime_root": os.path.join(d.state, "runtime", "crun"),
            "log_path": "", "bundle": bundle, "wdir": wdir}
    with sqlite3.connect(os.path.join(d.root, "cric.db")) as db:
        db.execute("INSERT INTO containers VALUES (?, ?, ?, 0, 100, 1, ?, ?)",
                   (cid, sid, "half", cfg, json.dumps(data)))
    return cid


def our_mounts(d):
    return sorted(l.split()[4] for l in open("/proc/self/mountinfo")
                  if "/containers/" in l.split()[4] and d.state in l.split()[4])


@pytest.fixture
def make_env(make_daemon, pb, images):
    """Factory: make_env(handler, daemon=None) -> Env; pods removed at the end."""
    made = []

    def factory(handler, d=None):
        e = Env(d or make_daemon(), pb, images, handler)
        made.append(e)
        return e

    yield factory
    for e in made:
        e.cleanup()


@pytest.fixture(params=RUNTIMES)
def env(request, make_env):
    return make_env(request.param)


@pytest.fixture
def crun_env(make_env):
    return make_env("crun")


def test_lifecycle_logs_exec_and_cleanup(env, pb):
    e = env
    sid = e.pod()
    before = our_mounts(e.d)
    cfg = e.config("main", ["sh", "-c"],
                   ["echo out; echo err >&2; printf partial; trap 'exit 0' TERM; "
                    "while true; do sleep 0.1; done"],
                   envs=[pb.KeyValue(key="FOO", value=b"bar")], working_dir="/tmp",
                   labels={"app": "x"}, annotations={"note": "n"})
    cid = e.create(sid, cfg)
    st = e.status(cid).status
    assert st.state == pb.CONTAINER_CREATED and st.created_at > 0 and st.started_at == 0
    assert st.image.image == e.images["busybox"] and st.image_id.startswith("sha256:")
    assert st.labels["app"] == "x" and st.annotations["note"] == "n"
    assert st.log_path == os.path.join(e.logdir, st.log_path.split("/")[-3], "main/0.log")
    e.rt.StartContainer(pb.StartContainerRequest(container_id=cid))
    st = e.status(cid).status
    assert st.state == pb.CONTAINER_RUNNING and st.started_at >= st.created_at
    with pytest.raises(grpc.RpcError) as err:
        e.rt.StartContainer(pb.StartContainerRequest(container_id=cid))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    # verbose info: pid and the OCI spec
    info = json.loads(e.status(cid, verbose=True).info["info"])
    assert info["pid"] > 0 and info["runtimeSpec"]["process"]["cwd"] == "/tmp"

    # ExecSync: env and cwd of the container, exit codes, missing command, timeout
    r = e.exec(cid, ["sh", "-c", "echo $FOO; pwd; echo e >&2; exit 3"])
    assert (r.stdout, r.stderr, r.exit_code) == (b"bar\n/tmp\n", b"e\n", 3)
    # the daemon ignores SIGPIPE; nothing it ignores or blocks reaches the command
    r = e.exec(cid, ["grep", "-E", "Sig(Blk|Ign)", "/proc/self/status"])
    assert r.stdout.split() == [b"SigBlk:", b"0000000000000000", b"SigIgn:", b"0000000000000000"]
    r = e.exec(cid, ["sh", "-c", "yes | head -c 3"])  # SIGPIPE ends `yes` in the container
    assert r.stdout == b"y\ny" and r.exit_code == 0
    r = e.exec(cid, ["/no/such/binary"])
    assert r.exit_code != 0
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as err:
        e.exec(cid, ["sleep", "30"], timeout=1)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "timed out" in err.value.details()
    assert time.monotonic() - t0 < 10
    big = e.exec(cid, ["sh", "-c", "head -c 3000000 /dev/zero"])
    assert len(big.stdout) == 3000000

    # log file: kubelet format, stderr stream (the unfinished line waits)
    time.sleep(0.3)
    lines = open(st.log_path).read().splitlines()
    parsed = [l.split(" ", 3) for l in lines]
    assert [(p[1], p[2], p[3]) for p in parsed] == [("stdout", "F", "out"), ("stderr", "F", "err")]
    assert all("T" in p[0] and p[0].endswith("Z") for p in parsed)

    # reopen after rename
    os.rename(st.log_path, st.log_path + ".1")
    e.rt.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=cid))
    assert os.path.exists(st.log_path)
    e.exec(cid, ["sh", "-c", "echo ' again' > /proc/1/fd/1"])
    time.sleep(0.3)
    assert open(st.log_path).read().split(" ", 3)[1:] == ["stdout", "F", "partial again\n"]
    # a line longer than 16 KiB is split into P records
    e.exec(cid, ["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x > /proc/1/fd/1; "
                             "echo > /proc/1/fd/1"])
    time.sleep(0.3)
    tags = [l.split(" ", 3)[2] for l in open(st.log_path).read().splitlines()]
    assert tags == ["F", "P", "P", "F"]

    # list filters
    def ids(**kw):
        return [c.id for c in e.rt.ListContainers(pb.ListContainersRequest(
            filter=pb.ContainerFilter(**kw))).containers]
    assert ids() == [cid]
    assert ids(id=cid[:6]) == [cid]
    assert ids(pod_sandbox_id=sid[:8]) == [cid]
    assert ids(label_selector={"app": "x"}) == [cid]
    assert ids(label_selector={"app": "y"}) == []
    assert ids(state=pb.ContainerStateValue(state=pb.CONTAINER_RUNNING)) == [cid]
    assert ids(state=pb.ContainerStateValue(state=pb.CONTAINER_EXITED)) == []
    streamed = [c.id for m in e.rt.StreamContainers(pb.StreamContainersRequest())
                for c in m.containers]
    assert streamed == [cid]

    # stop: the trap exits 0 on SIGTERM
    e.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=10))
    st = e.status(cid).status
    assert st.state == pb.CONTAINER_EXITED and st.exit_code == 0 and st.reason == "Completed"
    assert st.finished_at >= st.started_at
    e.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=10))  # idempotent
    with pytest.raises(grpc.RpcError) as err:
        e.rt.ReopenContainerLog(pb.ReopenContainerLogRequest(container_id=cid))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as err:
        e.exec(cid, ["true"])
    assert err.value.code() != grpc.StatusCode.OK

    e.remove(cid)
    e.remove(cid)  # idempotent
    with pytest.raises(grpc.RpcError) as err:
        e.status(cid)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert our_mounts(e.d) == before
    assert os.listdir(os.path.join(e.d.state, "containers")) == []
    assert os.listdir(os.path.join(e.d.root, "containers")) == []


def test_list_entries_follow_state(crun_env, pb):
    """ListContainers answers from each container's cached encoding: it must be
    the same message StreamContainers builds field by field, in every state,
    with labels and annotations, and follow each state change."""
    e = crun_env
    sid = e.pod()
    cids = [e.create(sid, e.config("l%d" % i, ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"],
                                   labels={"app": "l", "n": str(i)},
                                   annotations={"a/b": "c" * (i * 100)}))
            for i in range(3)]

    def both():
        listed = e.rt.ListContainers(pb.ListContainersRequest())
        streamed = pb.ListContainersResponse(containers=[
            c for m in e.rt.StreamContainers(pb.StreamContainersRequest()) for c in m.containers])
        assert listed.SerializeToString() == streamed.SerializeToString()
        return {c.id: c.state for c in listed.containers}

    assert both() == {c: pb.CONTAINER_CREATED for c in cids}
    e.rt.StartContainer(pb.StartContainerRequest(container_id=cids[0]))
    e.rt.StartContainer(pb.StartContainerRequest(container_id=cids[1]))
    assert both() == {cids[0]: pb.CONTAINER_RUNNING, cids[1]: pb.CONTAINER_RUNNING,
                      cids[2]: pb.CONTAINER_CREATED}
    e.rt.StopContainer(pb.StopContainerRequest(container_id=cids[1], timeout=10))
    assert both() == {cids[0]: pb.CONTAINER_RUNNING, cids[1]: pb.CONTAINER_EXITED,
                      cids[2]: pb.CONTAINER_CREATED}
    got = e.rt.ListContainers(pb.ListContainersRequest(filter=pb.ContainerFilter(
        state=pb.ContainerStateValue(state=pb.CONTAINER_EXITED)))).containers
    assert [c.id for c in got] == [cids[1]]
    assert dict(got[0].labels) == {"app": "l", "n": "1"}
    assert dict(got[0].annotations) == {"a/b": "c" * 100}
    e.remove(cids[1])
    assert both() == {cids[0]: pb.CONTAINER_RUNNING, cids[2]: pb.CONTAINER_CREATED}


def test_exec_sync_timeout_leaves_no_process(env, pb):
    """The timed-out process is reaped, not handed to a container init that
    does not reap (`top`, as critest's "execSync with timeout" uses)."""
    e = env
    sid = e.pod()
    cid = e.create(sid, e.config("top", ["top"], []))
    e.rt.StartContainer(pb.StartContainerRequest(container_id=cid))
    with pytest.raises(grpc.RpcError) as err:
        e.exec(cid, ["sleep", "4321"], timeout=1)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    r = e.exec(cid, ["sh", "-c", "pgrep sleep || true"], timeout=10)
    assert r.stdout.strip() == b"", r.stdout


def test_command_env_workdir_merging(crun_env, pb):
    e = crun_env
    sid = e.pod()
    # image Entrypoint + Cmd, image env and workdir
    st, out = e.output(sid, e.config("a", image="ctr-entry"))
    assert out == ["entry cmd1 cmd2"] and st.exit_code == 0 and st.reason == "Completed"
    # args replace Cmd only
    _, out = e.output(sid, e.config("b", args=["x"], image="ctr-entry"))
    assert out == ["entry x"]
    # command replaces Entrypoint and drops Cmd
    _, out = e.output(sid, e.config("c", ["sh", "-c", "echo $IMG $OVER $NEW; pwd"],
                                    image="ctr-entry",
                                    envs=[pb.KeyValue(key="OVER", value=b"cfg"),
                                          pb.KeyValue(key="NEW", value=b"n")]))
    assert out == ["img cfg n", "/work"]
    st, _ = e.output(sid, e.config("d", ["sh", "-c", "exit 7"]))
    assert st.exit_code == 7 and st.reason == "Error"
    # an image volume is an empty writable dir; a missing host path becomes a directory
    host = os.path.join(e.d.base, "hostdir", "sub")
    st, out = e.output(sid, e.config("vol", ["sh", "-c", "ls -A /data; echo v > /data/f && "
                                                        "echo h > /host/f && echo ok"],
                                     image="ctr-stopsig", linux=pb.LinuxContainerConfig(
                                         security_context=pb.LinuxContainerSecurityContext(
                                             readonly_rootfs=True)),
                                     mounts=[pb.Mount(container_path="/host", host_path=host)]))
    assert out == ["ok"], st.message
    assert open(os.path.join(host, "f")).read() == "h\n"
    assert [m.host_path for m in st.mounts] == [host]


def test_pid_namespace_pod_and_target(crun_env, pb):
    e = crun_env
    sleeper = ["sh", "-c", "exec sleep 1000"]
    # POD: the containers of the pod share one PID namespace
    sid = e.pod(pid=pb.POD)
    a = e.run(sid, e.config("a", sleeper))
    r = e.exec(a, ["ps", "-o", "args"])
    assert b"sleep 1000" in r.stdout
    _, out = e.output(sid, e.config("b", ["ps", "-o", "args"]))
    assert any("sleep 1000" in l for l in out)
    # TARGET: a container in another container's PID namespace
    sid2 = e.pod()
    t = e.run(sid2, e.config("t", sleeper))
    sc = pb.LinuxContainerSecurityContext(namespace_options=pb.NamespaceOption(
        pid=pb.TARGET, target_id=t))
    _, out = e.output(sid2, e.config("u", ["ps", "-o", "args"],
                                     linux=pb.LinuxContainerConfig(security_context=sc)))
    assert any("sleep 1000" in l for l in out)


def test_parallel_containers(crun_env, pb):
    """Different containers proceed in parallel; the same one is serialised."""
    e = crun_env
    sid = e.pod()
    before = our_mounts(e.d)

    def one(i):
        cid = e.run(sid, e.config("par%d" % i, ["sh", "-c", "while true; do sleep 0.1; done"]))
        assert e.exec(cid, ["echo", str(i)]).stdout == b"%d\n" % i
        return cid

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        ids = list(ex.map(one, range(8)))
        assert len(e.rt.ListContainers(pb.ListContainersRequest()).containers) == 8
        # concurrent stop and remove of the same containers
        stops = [ex.submit(e.rt.StopContainer, pb.StopContainerRequest(container_id=c, timeout=0))
                 for c in ids]
        removes = [ex.submit(e.remove, c) for c in ids for _ in range(2)]
        for f in stops + removes:
            f.result()
    assert len(e.rt.ListContainers(pb.ListContainersRequest()).containers) == 0
    assert our_mounts(e.d) == before


def test_users_and_groups(crun_env, pb):
    e = crun_env
    sid = e.pod()
    _, out = e.output(sid, e.config("byname", ["id"], image="ctr-user"))
    assert out == ["uid=1000(app) gid=1000(app) groups=1000(app),2000(extra)"]
    _, out = e.output(sid, e.config("byuidgid", ["id"], image="ctr-uid"))
    assert out[0].startswith("uid=1000(app) gid=2000(extra)")
    sc = pb.LinuxContainerSecurityContext(run_as_user=pb.Int64Value(value=33),
                                          run_as_group=pb.Int64Value(value=44),
                                          supplemental_groups=[55])
    st, out = e.output(sid, e.config("cfg", ["id"], image="ctr-user",
                                     linux=pb.LinuxContainerConfig(security_context=sc)))
    assert out == ["uid=33 gid=44 groups=44,55"]
    assert st.user.linux.uid == 33 and st.user.linux.gid == 44
    assert list(st.user.linux.supplemental_groups) == [44, 55]


@pytest.mark.parametrize("handler", RUNTIMES)
def test_security_context(make_env, pb, handler):
    e = make_env(handler)
    sid = e.pod(privileged=True)
    mount = ["sh", "-c", "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted"]

    def sc(**kw):
        return pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(**kw))

    st, out = e.output(sid, e.config("nocap", mount))
    assert st.exit_code != 0 and out == []
    unconf = pb.SecurityProfile(profile_type=pb.SecurityProfile.Unconfined)
    st, out = e.output(sid, e.config("cap", mount, linux=sc(
        capabilities=pb.Capability(add_capabilities=["CAP_SYS_ADMIN"]), seccomp=unconf)))
    assert out == ["mounted"], st.message
    st, out = e.output(sid, e.config("priv", mount + [], linux=sc(privileged=True)))
    assert out == ["mounted"]
    # read-only rootfs
    st, out = e.output(sid, e.config("ro", ["sh", "-c", "touch /x || echo ro; touch /tmp/y "
                                                       "2>/dev/null || echo tmp-ro"],
                                     linux=sc(readonly_rootfs=True)))
    assert out[0] == "ro"
    # seccomp: RuntimeDefault blocks new user namespaces (unshare) without CAP_SYS_ADMIN, and
    # with them sethostname; Unconfined allows both
    probe = ["sh", "-c", "unshare -U true && echo unshared; "
                         "unshare -Uur hostname foo && echo renamed; echo done"]
    rd = pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault)
    st, out = e.output(sid, e.config("seccomp", probe, linux=sc(seccomp=rd)))
    assert out == ["done"]
    st, out = e.output(sid, e.config("unconfined", probe, linux=sc(seccomp=unconf)))
    assert out == ["unshared", "renamed", "done"]


def test_oom_killed_and_stop_grace(crun_env, pb):
    e = crun_env
    sid = e.pod()
    res = pb.LinuxContainerResources(memory_limit_in_bytes=32 << 20)
    st, _ = e.output(sid, e.config("oom", ["sh", "-c", "tail /dev/zero"],
                                   linux=pb.LinuxContainerConfig(resources=res)))
    assert st.reason == "OOMKilled" and st.exit_code == 137
    # a process that ignores SIGTERM is killed at the timeout
    cid = e.run(sid, e.config("stubborn", ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; "
                                                       "done"]))
    time.sleep(0.3)
    t0 = time.monotonic()
    e.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=2))
    took = time.monotonic() - t0
    st = e.status(cid).status
    assert 1.8 < took < 8 and st.exit_code == 137 and st.state == pb.CONTAINER_EXITED
    # timeout 0 kills at once
    cid = e.run(sid, e.config("now", ["sh", "-c", "trap '' TERM; sleep 100"]))
    t0 = time.monotonic()
    e.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=0))
    assert time.monotonic() - t0 < 2 and e.status(cid).status.exit_code == 137
    # the image's StopSignal is used
    cid = e.run(sid, e.config("usr1", ["sh", "-c", "trap 'exit 42' USR1; while true; do "
                                                   "sleep 0.1; done"], image="ctr-stopsig"))
    time.sleep(0.3)
    assert e.status(cid).status.stop_signal == pb.SIGNAL_SIGUSR1
    e.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=10))
    assert e.status(cid).status.exit_code == 42


def test_duplicate_name_and_stopped_sandbox(crun_env, pb):
    e = crun_env
    sid = e.pod()
    cid = e.create(sid, e.config("dup", ["true"]))
    with pytest.raises(grpc.RpcError) as err:
        e.create(sid, e.config("dup", ["true"]))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS and cid in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        e.create(sid, e.config("bad", ["true"], image="nothere:1"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    e.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid))
    assert e.status(cid).status.state == pb.CONTAINER_EXITED
    with pytest.raises(grpc.RpcError) as err:
        e.create(sid, e.config("late", ["true"]))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    e.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid))
    with pytest.raises(grpc.RpcError) as err:
        e.status(cid)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert our_mounts(e.d) == []


def test_daemon_kill9_restart(make_env, pb):
    e = make_env("crun")
    d = e.d
    sid = e.pod()
    running = e.run(sid, e.config("run", ["sh", "-c", "while true; do sleep 0.1; done"]))
    exits = e.run(sid, e.config("exits", ["sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.05; "
                                                      "done; exit 5"]))
    created = e.create(sid, e.config("created", ["true"]))
    done = e.run(sid, e.config("done", ["sh", "-c", "exit 3"]))
    e.wait_exit(done)
    d.kill9()
    half = half_made_container(d, pb, sid)
    # while the daemon is down, one container exits
    rootfs = os.path.join(d.state, "containers", exits, "rootfs")
    open(os.path.join(rootfs, "tmp", "go"), "w").close()
    time.sleep(0.5)
    d.start()
    e.rt = d.runtime()
    assert e.status(running).status.state == pb.CONTAINER_RUNNING
    assert e.exec(running, ["echo", "hi"]).stdout == b"hi\n"
    st = e.status(exits).status
    assert st.state == pb.CONTAINER_EXITED and st.exit_code == 5
    assert e.status(created).status.state == pb.CONTAINER_CREATED
    assert e.status(done).status.exit_code == 3
    # the container a crash left half made is gone: mount, directories, row
    assert not any(half in m for m in our_mounts(d))
    assert not os.path.exists(os.path.join(d.state, "containers", half))
    assert not os.path.exists(os.path.join(d.root, "containers", half))
    with sqlite3.connect(os.path.join(d.root, "cric.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM containers WHERE id = ?", (half,)).fetchone() == (0,)
    e.rt.StartContainer(pb.StartContainerRequest(container_id=created))
    assert e.wait_exit(created).exit_code == 0
    e.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid))
    e.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid))
    assert len(e.rt.ListContainers(pb.ListContainersRequest()).containers) == 0
    assert our_mounts(d) == []


def test_kill9_during_remove_finishes_the_removal_at_start(make_daemon, make_env, pb, tmp_path):
    """Regression (reliability harness): a daemon killed half way through
    RemoveContainer came back listing the container with its bundle and
    writable layer already gone. The removal is now recorded first and a
    restart finishes it: the container is fully gone."""
    gate, started = tmp_path / "gate", tmp_path / "started"
    wrapper = tmp_path / "crun-slow-delete"
    wrapper.write_text("#!/bin/sh\n"
                       "for a in \"$@\"; do [ \"$a\" = delete ] && [ -e %s ] && {\n"
                       "  touch %s; n=0\n"
                       "  while [ -e %s ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; }\n"
                       "done\nexec /usr/bin/crun \"$@\"\n" % (gate, started, gate))
    wrapper.chmod(0o755)
    d = make_daemon(config={"runtimes": {"default": "crun", "handlers": {
        "crun": {"path": "/usr/bin/crun"}, "slowdel": {"path": str(wrapper)}}}})
    e = make_env("slowdel", d)
    sid = e.pod()
    cid = e.run(sid, e.config("victim", ["sh", "-c", "exit 4"]))
    e.wait_exit(cid)
    gate.write_text("")
    errors = []

    def remove():
        try:
            e.remove(cid)
        except grpc.RpcError as err:
            errors.append(err)
    t = concurrent.futures.ThreadPoolExecutor(1).submit(remove)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.exists()
    d.kill9()
    t.result()
    assert errors
    gate.unlink()
    d.start()
    e.rt = d.runtime()
    assert [c.id for c in e.rt.ListContainers(pb.ListContainersRequest()).containers] == []
    assert not os.path.exists(os.path.join(d.state, "containers", cid))
    assert not os.path.exists(os.path.join(d.root, "containers", cid))
    assert not any(cid in m for m in our_mounts(d))
    with sqlite3.connect(os.path.join(d.root, "cric.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM containers WHERE id = ?", (cid,)).fetchone() == (0,)
    assert "removal begun by an earlier run" in d.log()


def test_kill9_during_start_finishes_the_start_at_restart(make_daemon, make_env, pb, tmp_path):
    """Regression (reliability harness): a daemon killed during StartContainer,
    after the shim was told "starting" but before `runtime start` ran, came
    back reporting the container RUNNING while its process waited forever to
    be released. The restart now finishes the start: the process runs and
    its exit is reported."""
    gate, pidfile = tmp_path / "gate", tmp_path / "wrapper.pid"
    wrapper = tmp_path / "crun-slow-start"
    wrapper.write_text("#!/bin/sh\n"
                       "for a in \"$@\"; do [ \"$a\" = start ] && [ -e %s ] && {\n"
                       "  echo $$ > %s; while [ -e %s ]; do sleep 0.05; done; }\n"
                       "done\nexec /usr/bin/crun \"$@\"\n" % (gate, pidfile, gate))
    wrapper.chmod(0o755)
    d = make_daemon(config={"runtimes": {"default": "crun", "handlers": {
        "crun": {"path": "/usr/bin/crun"}, "slowstart": {"path": str(wrapper)}}}})
    e = make_env("slowstart", d)
    sid = e.pod()
    cid = e.create(sid, e.config("late", ["sh", "-c", "exit 6"]))
    gate.write_text("")
    errors = []

    def start():
        try:
            e.rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=60)
        except grpc.RpcError as err:
            errors.append(err)
    t = concurrent.futures.ThreadPoolExecutor(1).submit(start)
    deadline = time.monotonic() + 30
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    d.kill9()
    os.kill(int(pidfile.read_text()), 9)  # the start never runs
    t.result()
    assert errors
    gate.unlink()
    d.start()
    e.rt = d.runtime()
    st = e.wait_exit(cid, timeout=15)
    assert st.exit_code == 6
    assert "finished a start interrupted by a restart" in d.log()


def test_remove_takes_the_cgroup_a_runtime_forgot(make_daemon, make_env, pb, tmp_path):
    """Regression (reliability harness, a round of seed 1795381034): a create
    cut short can leave the container's cgroup made while the runtime has no
    record of the container, so `runtime delete` answers "does not exist"
    and the directories stayed in every hierarchy (and kept the pod's cgroup
    parent from being removed). Removal now takes them itself. A runtime
    whose delete always answers "does not exist" stands in for it."""
    wrapper = tmp_path / "crun-forgetful"
    wrapper.write_text("#!/bin/sh\n"
                       "for a in \"$@\"; do [ \"$a\" = delete ] && {\n"
                       "  echo 'container does not exist' >&2; exit 1; }\n"
                       "done\nexec /usr/bin/crun \"$@\"\n")
    wrapper.chmod(0o755)
    d = make_daemon(config={"runtimes": {"default": "crun", "handlers": {
        "crun": {"path": "/usr/bin/crun"}, "forgetful": {"path": str(wrapper)}}}})
    e = make_env("forgetful", d)
    sid = e.pod()
    cid = e.create(sid, e.config("kept", ["sleep", "1000"]))
    e.rt.StartContainer(pb.StartContainerRequest(container_id=cid))
    info = json.loads(e.status(cid, verbose=True).info["info"])
    cg = info["runtimeSpec"]["linux"]["cgroupsPath"]
    dirs = [h + cg for h in glob.glob("/sys/fs/cgroup/*") if os.path.isdir(h + cg)]
    assert dirs, "no cgroup directory found for %s" % cg
    e.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=0))
    e.remove(cid)
    try:
        assert [x for x in dirs if os.path.exists(x)] == []
        assert "removed the cgroup" in d.log()
    finally:
        subprocess.run(["crun", "--root", os.path.join(d.state, "runtime", "forgetful"),
                        "delete", "--force", cid], capture_output=True)


def test_stale_exec_sync_files_are_removed_at_start(make_daemon):
    """Regression (reliability harness): a daemon killed during ExecSync left
    the call's process.json and pid file under <state>/exec-sync for ever."""
    d = make_daemon()
    d.kill9()
    stale = os.path.join(d.state, "exec-sync")
    for name in ("0123456789ab-1.json", "0123456789ab-1.pid"):
        with open(os.path.join(stale, name), "w") as f:
            f.write("{}")
    d.start()
    assert os.listdir(stale) == []


def test_kill9_during_create_kills_the_cut_create_at_start(make_daemon, make_env, pb, tmp_path):
    """Regression (reliability harness): a daemon killed while cric-shim was
    still running the runtime's create left that shim running; the restart
    removed the half-made container but the shim went on to create and serve
    a container nobody listed (and the restart waited 5 s for it). The
    create's process group is now killed first."""
    gate, pidfile = tmp_path / "gate", tmp_path / "wrapper.pid"
    wrapper = tmp_path / "crun-slow-create"
    wrapper.write_text("#!/bin/sh\n"
                       "for a in \"$@\"; do [ \"$a\" = create ] && [ -e %s ] && {\n"
                       "  echo $$ > %s; n=0\n"
                       "  while [ -e %s ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; }\n"
                       "done\nexec /usr/bin/crun \"$@\"\n" % (gate, pidfile, gate))
    wrapper.chmod(0o755)
    d = make_daemon(config={"runtimes": {"default": "crun", "handlers": {
        "crun": {"path": "/usr/bin/crun"}, "slowcreate": {"path": str(wrapper)}}}})
    e = make_env("slowcreate", d)
    sid = e.pod()
    gate.write_text("")
    errors = []

    def create():
        try:
            e.create(sid, e.config("cut", ["sleep", "1000"]))
        except grpc.RpcError as err:
            errors.append(err)
    t = concurrent.futures.ThreadPoolExecutor(1).submit(create)
    deadline = time.monotonic() + 30
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    d.kill9()
    t.result()
    assert errors
    wrapper_pid = int(pidfile.read_text())
    t0 = time.monotonic()
    d.start()
    took = time.monotonic() - t0
    e.rt = d.runtime()
    assert list(e.rt.ListContainers(pb.ListContainersRequest()).containers) == []
    deadline = time.monotonic() + 5
    while os.path.exists("/proc/%d" % wrapper_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    gate.unlink()
    assert not os.path.exists("/proc/%d" % wrapper_pid), "the cut create still runs"
    def cmdline(p):
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""
    left = [p for p in os.listdir("/proc") if p.isdigit() and int(p) != d.proc.pid and
            d.state in cmdline(p)]
    assert left == [], "processes of the cut create are left"
    assert os.listdir(os.path.join(d.state, "containers")) == []
    assert took < 5, "the restart waited %.1f s for the cut create" % took
