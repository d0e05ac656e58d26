"""Hostile ids, names and paths in every RPC that takes one, and a mount
destination that is a symlink out of the rootfs: each gets a clear
INVALID_ARGUMENT or NOT_FOUND (or, for the idempotent Stop/Remove, success),
and nothing is created on disk, inside the daemon's root/state or outside.
Hostile layers are in test_image_hostile.py, the fuzz targets in fuzz/."""
import os
import time
import uuid

import grpc
import pytest

from registry import Layer, busybox_layer_cached

BAD = {
    "slash": "a/b",
    "dotdot": "../../../../tmp/cric-hostile",
    "dot": ".",
    "dotdot-only": "..",
    "nul": "abc\x00def",
    "nul-traversal": "0123\x00/../../etc",
    "big": "f" * 10240,
    "abs": "/etc/passwd",
    "newline": "abc\ndef",
}
CLEAR = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)


def tree(d):
    """Every path under the daemon's root and state, minus the database's
    own journal files (they come and go with any read) and the OCI runtimes'
    state roots (state/runtime/<handler>, made once by the first create)."""
    out = set()
    for top in (d.root, d.state):
        for base, dirs, files in os.walk(top):
            for n in dirs + files:
                p = os.path.join(base, n)
                if not os.path.basename(p).startswith("cric.db") and \
                        not p.startswith(os.path.join(d.state, "runtime")):
                    out.add(p)
    return out


def call(fn, req):
    """The status code and message of one call (OK when it succeeded)."""
    try:
        fn(req, timeout=60)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()


def check_clear(name, code, msg, idempotent=False):
    allowed = CLEAR + ((grpc.StatusCode.OK,) if idempotent else ())
    assert code in allowed, (name, code, msg)
    assert len(msg) < 2048, (name, "message of %d bytes" % len(msg))
    assert "\x00" not in msg


def test_hostile_ids_in_every_rpc(daemon, pb):
    d = daemon
    rt, im = d.runtime(), d.image()
    before = tree(d)
    sandbox_rpcs = [
        (rt.StopPodSandbox, lambda v: pb.StopPodSandboxRequest(pod_sandbox_id=v), True),
        (rt.RemovePodSandbox, lambda v: pb.RemovePodSandboxRequest(pod_sandbox_id=v), True),
        (rt.PodSandboxStatus, lambda v: pb.PodSandboxStatusRequest(pod_sandbox_id=v), False),
        (rt.PodSandboxStats, lambda v: pb.PodSandboxStatsRequest(pod_sandbox_id=v), False),
        (rt.PortForward, lambda v: pb.PortForwardRequest(pod_sandbox_id=v, port=[80]), False),
        (rt.UpdatePodSandboxResources,
         lambda v: pb.UpdatePodSandboxResourcesRequest(pod_sandbox_id=v), False),
        (rt.CreateContainer, lambda v: pb.CreateContainerRequest(
            pod_sandbox_id=v, config=pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name="c"), image=pb.ImageSpec(image="busybox"))),
         False),
    ]
    container_rpcs = [
        (rt.StartContainer, lambda v: pb.StartContainerRequest(container_id=v), False),
        (rt.StopContainer, lambda v: pb.StopContainerRequest(container_id=v), True),
        (rt.RemoveContainer, lambda v: pb.RemoveContainerRequest(container_id=v), True),
        (rt.ContainerStatus, lambda v: pb.ContainerStatusRequest(container_id=v), False),
        (rt.ContainerStats, lambda v: pb.ContainerStatsRequest(container_id=v), False),
        (rt.UpdateContainerResources,
         lambda v: pb.UpdateContainerResourcesRequest(container_id=v), False),
        (rt.ReopenContainerLog, lambda v: pb.ReopenContainerLogRequest(container_id=v), False),
        (rt.ExecSync, lambda v: pb.ExecSyncRequest(container_id=v, cmd=["true"], timeout=1),
         False),
        (rt.Exec, lambda v: pb.ExecRequest(container_id=v, cmd=["sh"], stdout=True), False),
        (rt.Attach, lambda v: pb.AttachRequest(container_id=v, stdout=True), False),
    ]
    image_rpcs = [
        (im.PullImage, lambda v: pb.PullImageRequest(image=pb.ImageSpec(image=v)), False),
        (im.ImageStatus, lambda v: pb.ImageStatusRequest(image=pb.ImageSpec(image=v)), True),
        (im.RemoveImage, lambda v: pb.RemoveImageRequest(image=pb.ImageSpec(image=v)), True),
    ]
    for fn, make, idem in sandbox_rpcs + container_rpcs + image_rpcs:
        for label, value in BAD.items():
            if fn is im.PullImage and label == "slash":
                continue  # "a/b" is a fine reference (docker.io/a/b:latest)
            code, msg = call(fn, make(value))
            name = "%s(%s)" % (fn._method.decode().rsplit("/", 1)[1], label)
            # Stop/Remove of what does not exist is success (CRI), also for an
            # id that cannot exist; a NUL byte is refused everywhere.
            check_clear(name, code, msg, idem and "\x00" not in value)
            if "\x00" in value:
                assert code == grpc.StatusCode.INVALID_ARGUMENT and "NUL" in msg, (name, msg)
    # Filters with hostile ids list nothing (a NUL byte is refused outright).
    for value in BAD.values():
        for fn, req, field in (
                (rt.ListContainers, pb.ListContainersRequest(filter=pb.ContainerFilter(
                    id=value, pod_sandbox_id=value)), "containers"),
                (rt.ListPodSandbox, pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(
                    id=value)), "items")):
            if "\x00" in value:
                code, msg = call(fn, req)
                assert code == grpc.StatusCode.INVALID_ARGUMENT, msg
            else:
                assert list(getattr(fn(req), field)) == []
    assert tree(d) == before
    assert not os.path.exists("/tmp/cric-hostile")
    assert daemon.runtime().Version(pb.VersionRequest()).runtime_name == "cric"


def test_hostile_sandbox_metadata_and_paths(daemon, pb):
    d = daemon
    rt = d.runtime()
    before = tree(d)
    logs = os.path.join(d.base, "logs")

    def cfg(name="p", ns="cric-test", uid="u", logdir=logs, hostname=""):
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace=ns, uid=uid),
            hostname=hostname, log_directory=logdir,
            linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
                namespace_options=pb.NamespaceOption(network=pb.NODE))))

    cases = []
    for label, v in BAD.items():
        cases += [("name-" + label, cfg(name=v)), ("namespace-" + label, cfg(ns=v)),
                  ("uid-" + label, cfg(uid=v)), ("hostname-" + label, cfg(hostname=v))]
    cases += [("logdir-relative", cfg(logdir="../../tmp/cric-hostile")),
              ("logdir-nul", cfg(logdir=logs + "\x00/../x")),
              ("logdir-big", cfg(logdir="/" + "d" * 10240))]
    for label, c in cases:
        code, msg = call(rt.RunPodSandbox, pb.RunPodSandboxRequest(config=c))
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (label, code, msg)
        assert len(msg) < 2048
    assert list(rt.ListPodSandbox(pb.ListPodSandboxRequest()).items) == []
    assert tree(d) == before
    assert not os.path.exists("/tmp/cric-hostile")
    assert not os.path.exists(logs)


@pytest.fixture(scope="module")
def escape_image(registry):
    """busybox plus absolute and relative symlinks pointing out of the rootfs,
    at a directory the test owns."""
    outside = "/tmp/cric-escape-" + uuid.uuid4().hex[:8]
    L = Layer().symlink("evil", outside).symlink("evilrel", "../../../../.." + outside) \
        .dir("etc").symlink("etc/evildir", outside + "/sub")
    img = registry.push("hostile-mounts", ["latest"], [busybox_layer_cached(), L.finish("gzip")])
    return registry.ref(img.repo + ":latest"), outside


@pytest.mark.parametrize("handler", ["crun", "runc"])
def test_mount_destinations_through_symlinks_stay_inside(make_daemon, pb, escape_image, handler,
                                                         tmp_path):
    ref, outside = escape_image
    os.makedirs(outside)
    src = tmp_path / "src"
    src.mkdir()
    (src / "marker").write_text("m")
    d = make_daemon()
    rt = d.runtime()
    d.image().PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=120)
    logs = os.path.join(d.base, "logs")
    sid = rt.RunPodSandbox(pb.RunPodSandboxRequest(runtime_handler=handler, config=pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="p", namespace="cric-test", uid=uuid.uuid4().hex),
        log_directory=logs,
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.NODE))))), timeout=60).pod_sandbox_id
    try:
        for i, dest in enumerate(["/evil/sub", "/evilrel/sub2", "/etc/evildir/x", "/evil"]):
            c = pb.ContainerConfig(
                metadata=pb.ContainerMetadata(name="m%d" % i), image=pb.ImageSpec(image=ref),
                command=["sh", "-c", "cat %s/marker 2>/dev/null; echo done" % dest],
                log_path="m%d.log" % i,
                mounts=[pb.Mount(container_path=dest, host_path=str(src))])
            try:
                cid = rt.CreateContainer(pb.CreateContainerRequest(
                    pod_sandbox_id=sid, config=c), timeout=60).container_id
                rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=60)
                deadline = time.monotonic() + 20
                while rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)).status \
                        .state != pb.CONTAINER_EXITED:
                    assert time.monotonic() < deadline, dest
                    time.sleep(0.05)
                # The mount landed inside the rootfs: the container sees the
                # marker at the destination it asked for.
                log = open(os.path.join(logs, "m%d.log" % i)).read()
                assert " stdout F m" in log or " stdout P m" in log, (dest, log)
            except grpc.RpcError as e:
                # Refusing is fine; the message must say what was refused.
                assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT,
                                    grpc.StatusCode.FAILED_PRECONDITION,
                                    grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), e.details()
            # Whatever happened: nothing was created or mounted outside.
            assert os.listdir(outside) == [], (dest, os.listdir(outside))
            assert not any(outside in l.split()[4] for l in open("/proc/self/mountinfo")), dest
    finally:
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=120)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=120)
        assert os.listdir(outside) == []
        os.rmdir(outside)


def test_hostile_container_config(make_daemon, registry, pb):
    d = make_daemon()
    rt = d.runtime()
    ref = registry.ref("busybox:latest")
    d.image().PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=120)
    logs = os.path.join(d.base, "logs")
    sid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="p", namespace="cric-test", uid=uuid.uuid4().hex),
        log_directory=logs,
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.NODE))))), timeout=60).pod_sandbox_id
    try:
        before = tree(d)
        logs_before = set(os.listdir(logs)) if os.path.isdir(logs) else set()

        def cfg(name="c", log_path="c.log", mounts=(), image=ref, **kw):
            return pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name),
                                      image=pb.ImageSpec(image=image), command=["true"],
                                      log_path=log_path, mounts=list(mounts), **kw)

        cases = [("name-" + k, cfg(name=v)) for k, v in BAD.items() if k != "abs"]
        cases += [("name-abs", cfg(name="/etc/passwd"))]
        cases += [("log-" + k, cfg(log_path=v)) for k, v in
                  (("dotdot", "../../../../tmp/cric-hostile/x.log"), ("nul", "a\x00/../../x"),
                   ("big", "l" * 10240), ("dotdot-mid", "a/../../x.log"))]
        cases += [("image-" + k, cfg(image=v)) for k, v in BAD.items() if k in ("nul", "big")]
        cases += [("mount-dest-" + k, cfg(mounts=[pb.Mount(container_path=v, host_path="/tmp")]))
                  for k, v in (("relative", "../../x"), ("nul", "/x\x00/../y"),
                               ("big", "/" + "m" * 10240))]
        cases += [("mount-src-" + k, cfg(mounts=[pb.Mount(container_path="/x", host_path=v)]))
                  for k, v in (("relative", "../../tmp"), ("nul", "/tmp\x00/x"),
                               ("big", "/" + "s" * 10240))]
        cases += [("env-key-nul", cfg(envs=[pb.KeyValue(key="A\x00B", value=b"1")])),
                  ("workdir-nul", cfg(working_dir="/\x00x")),
                  ("cmd-nul", pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"),
                                                 image=pb.ImageSpec(image=ref),
                                                 command=["sh\x00x"]))]
        for label, c in cases:
            code, msg = call(rt.CreateContainer, pb.CreateContainerRequest(pod_sandbox_id=sid,
                                                                          config=c))
            assert code in CLEAR, (label, code, msg)
            assert len(msg) < 2048
            assert list(rt.ListContainers(pb.ListContainersRequest()).containers) == [], label
            assert tree(d) == before, (label, sorted(tree(d) - before))
        after = tree(d)
        assert after == before, (sorted(after - before), sorted(before - after))
        assert (set(os.listdir(logs)) if os.path.isdir(logs) else set()) == logs_before
        assert not os.path.exists("/tmp/cric-hostile")
    finally:
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=120)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=120)
