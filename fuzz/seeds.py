#!/usr/bin/python3
"""Writes the hand-made seed inputs of every fuzz target into fuzz/corpus/<target>/
(seed-*; inputs libFuzzer found and merged keep their hash names). Run once
when a target is added or its input format changes: /usr/bin/python3 fuzz/seeds.py
Valid inputs first, then hostile ones (what the issue lists: traversal, links
out of the root, device nodes, huge headers, ids with '/', '..', NUL, 10 KB)."""
import gzip
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


D1 = sha(b"one")
D2 = sha(b"two")
BIG = "a" * 10240

# ---- reference
for i, r in enumerate(["busybox", "docker.io/library/busybox:latest", "localhost:5000/a/b:v1.2",
                       "registry.k8s.io/pause:3.9@" + D1, "quay.io/x/y@" + D2, "[::1]:5000/x/y:z",
                       "UPPER/case", "a/../b", "/abs/path", "a//b", "name@sha256:abc", "a:b:c",
                       "x:" + "t" * 200, "../../etc/passwd", "a\x00b", "host:99999/x", BIG,
                       "a/" * 200 + "b", "sha256:" + "0" * 64, "0" * 64, "ab/cd"]):
    out("reference", "%02d" % i, r)

# ---- manifest (first byte: content type index, see fuzz_manifest.c)
layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D1, "size": 10}
oci = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D2, "size": 5},
       "layers": [layer, dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+zstd")]}
docker = dict(oci, mediaType="application/vnd.docker.distribution.manifest.v2+json",
              layers=[dict(layer, mediaType="application/vnd.docker.image.rootfs.diff.tar.gzip")])
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D1,
                        "size": 100, "platform": {"os": "linux", "architecture": "amd64"}},
                       {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D2,
                        "size": 100, "platform": {"os": "linux", "architecture": "arm",
                                                  "variant": "v7"}}]}
config = {"architecture": "amd64", "os": "linux",
          "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "User": "1000:1000",
                     "Volumes": {"/data": {}}, "StopSignal": "SIGQUIT"},
          "rootfs": {"type": "layers", "diff_ids": [D1, D2]}}
for i, (ct, doc) in enumerate([(2, oci), (4, docker), (1, index), (3, dict(index, mediaType=None)),
                               (0, config), (5, {"config": oci["config"], "layers": []}),
                               (6, {"schemaVersion": 1, "fsLayers": []}),
                               (2, dict(oci, layers=[dict(layer, size=-1)])),
                               (2, dict(oci, layers=[dict(layer, digest="sha256:../../x")])),
                               (2, dict(oci, layers=[layer] * 300)),
                               (0, dict(config, rootfs={"type": "layers", "diff_ids": ["x"]})),
                               (1, dict(index, manifests=[{"digest": BIG}]))]):
    out("manifest", "%02d" % i, bytes([ct]) + json.dumps(doc).encode())
out("manifest", "garbage", b"\x02{\"schemaVersion\": 2, \"layers\": [")

# ---- cni_result
r040 = {"cniVersion": "0.4.0",
        "interfaces": [{"name": "cni0", "mac": "aa"}, {"name": "veth1", "mac": "bb"},
                       {"name": "eth0", "mac": "cc", "sandbox": "/run/netns/x"}],
        "ips": [{"version": "4", "interface": 2, "address": "10.1.0.5/16", "gateway": "10.1.0.1"},
                {"version": "6", "interface": 2, "address": "fd00::5/64"}],
        "routes": [{"dst": "0.0.0.0/0"}], "dns": {}}
r100 = dict(r040, cniVersion="1.0.0", ips=[{"interface": 2, "address": "10.1.0.6/16"}])
r020 = {"cniVersion": "0.2.0", "ip4": {"ip": "10.2.0.3/24"}, "ip6": {"ip": "fd01::3/64"}}
conflist = {"cniVersion": "1.0.0", "name": "net",
            "plugins": [{"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local"}},
                        {"type": "portmap", "capabilities": {"portMappings": True}}]}
for i, doc in enumerate([r040, r100, r020, conflist,
                         dict(r040, ips=[{"interface": 99, "address": "10.0.0.1/8"}]),
                         dict(r040, ips=[{"address": "not-an-ip"}]),
                         dict(r040, ips=[{"address": BIG}]), {"ips": "x"}, [1, 2]]):
    out("cni_result", "%02d" % i, json.dumps(doc))

# ---- config
full = json.loads(subprocess.run([os.path.join(REPO, "build", "src", "daemon", "cric"), "config"],
                                 capture_output=True, text=True).stdout or "{}")
for i, doc in enumerate([full, {}, {"log_level": "debug"}, {"grpc": {"workers": 0}},
                         {"unknown": 1}, {"listen": "relative.sock"},
                         {"runtimes": {"default": "nope", "handlers": {}}},
                         {"registries": {"docker.io": {"mirrors": ["ftp://x"]}}},
                         {"streaming": {"address": "0.0.0.0", "port": 70000}},
                         {"cni": {"bin_dirs": [BIG]}}, {"root": "/var/lib/../lib/cric"}]):
    out("config", "%02d" % i, json.dumps(doc))
out("config", "dup", '{"root": "/a", "root": "/b"}')

# ---- stream_http
reqs = [
    "GET /exec/AbCdEf?command=sh&command=-c&command=echo%20hi&input=1&output=1&tty=0 HTTP/1.1\r\n"
    "Host: 127.0.0.1:1234\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n",
    "GET /attach/tok?stdin=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n"
    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Protocol: v5.channel.k8s.io, base64.channel.k8s.io\r\n\r\n",
    "GET /portforward/tok?port=80&port=8080 HTTP/1.1\r\nHost: x\r\n\r\n",
    "POST / HTTP/1.0\r\n\r\n", "GET /exec/x HTTP/2.0\r\n\r\n", "GET /%zz?a=%4 HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\r\n" + "X: y\r\n" * 70 + "\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    "GET / HTTP/1.1\r\nX:" + BIG + "\r\n\r\n", "GET /exec/../../etc HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\n\n", "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", "GET / HTTP/1.1\r\n",
]
for i, r in enumerate(reqs):
    out("stream_http", "%02d" % i, r)

# ---- stream_spdy
from spdy_client import DICTIONARY  # noqa: E402


def control(ftype, flags, payload):
    return struct.pack(">HHI", 0x8000 | 3, ftype, (flags << 24) | len(payload)) + payload


def block(deflate, headers):
    raw = struct.pack(">I", len(headers))
    for k, v in headers:
        raw += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
    return deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH)


def spdy(headers_list, extra=b""):
    d = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                         DICTIONARY)
    s = b""
    sid = 1
    for h in headers_list:
        s += control(1, 0, struct.pack(">IIBB", sid, 0, 0, 0) + block(d, h))
        sid += 2
    return s + extra


std = [(b"streamtype", b"error")], [(b"streamtype", b"stdout")], [(b"streamtype", b"stdin")]
out("stream_spdy", "00", spdy(std, struct.pack(">II", 5, (1 << 24) | 2) + b"hi"))
out("stream_spdy", "01", spdy([[(b"streamtype", b"data"), (b"port", b"80"),
                                (b"requestid", b"0")]]))
out("stream_spdy", "02", control(4, 0, struct.pack(">I", 2) + struct.pack(">II", 7, 65536) +
                                 struct.pack(">II", 4, 100)) + control(6, 0, struct.pack(">I", 1)) +
    control(9, 0, struct.pack(">II", 1, 1000)) + control(3, 0, struct.pack(">II", 1, 5)) +
    control(7, 0, struct.pack(">II", 0, 0)))
out("stream_spdy", "03", spdy([[(b"Upper", b"x")], [(b"a", b"1"), (b"a", b"2")]]))
out("stream_spdy", "04", spdy([[(b"x", b"v" * 70000)]]))
out("stream_spdy", "05", control(1, 0, struct.pack(">IIBB", 1, 0, 0, 0) + b"\x78\x9c garbage"))
out("stream_spdy", "06", struct.pack(">HHI", 0x8000 | 2, 1, 10) + b"\0" * 10)
out("stream_spdy", "07", control(1, 0, struct.pack(">IIBB", 1, 0, 0, 0) +
                                 zlib.compress(struct.pack(">I", 0x7fffffff))))

# ---- stream_ws
for i, m in enumerate([b"\x00", b"\x00hello", b"\x01out", b"\x04{\"Width\":80,\"Height\":24}",
                       b"0aGVsbG8=", b"0", b"1aGk", b"0!!notbase64", b"9" + b"QQ==" * 100, b""]):
    out("stream_ws", "%02d" % i, m)


# ---- unpack
def tar(entries, comp=None, fmt=tarfile.PAX_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = b.getvalue()
    if comp == "gzip":
        return gzip.compress(raw, mtime=0)
    if comp == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True,
                              check=True).stdout
    return raw


def ti(name, type_=tarfile.REGTYPE, linkname="", size=0, mode=0o644, **kw):
    t = tarfile.TarInfo(name)
    t.type, t.linkname, t.size, t.mode, t.mtime = type_, linkname, size, mode, 0
    for k, v in kw.items():
        setattr(t, k, v)
    return t


base = [(ti("etc", tarfile.DIRTYPE, mode=0o755), None), (ti("etc/hosts", size=3), b"abc"),
        (ti("bin", tarfile.DIRTYPE, mode=0o755), None),
        (ti("bin/sh", tarfile.SYMTYPE, "/bin/busybox"), None),
        (ti("bin/busybox", size=4, mode=0o755), b"\x7fELF"),
        (ti("bin/ls", tarfile.LNKTYPE, "bin/busybox"), None),
        (ti("tmp", tarfile.DIRTYPE, mode=0o1777), None), (ti("tmp/fifo", tarfile.FIFOTYPE), None),
        (ti("etc/.wh.old"), None), (ti("tmp/.wh..wh..opq"), None)]
out("unpack", "00-plain", tar(base))
out("unpack", "01-gzip", tar(base, "gzip"))
out("unpack", "02-zstd", tar(base, "zstd"))
out("unpack", "03-gnu", tar(base, fmt=tarfile.GNU_FORMAT))
xt = ti("x", size=1)
xt.pax_headers = {"SCHILY.xattr.user.k": "v", "SCHILY.xattr.security.capability": "\x01\x00"}
out("unpack", "04-xattr", tar([(xt, b"x")]))
depth = "../" * 12
hostile = {
    "traversal": [(ti(depth + "tmp/pwned", size=1), b"x")],
    "traversal-mid": [(ti("a/../../pwned", size=1), b"x")],
    "abs-path": [(ti("/etc/pwned", size=1), b"x")],
    "hardlink-out": [(ti("h", tarfile.LNKTYPE, "/etc/passwd"), None)],
    "hardlink-dotdot": [(ti("h", tarfile.LNKTYPE, depth + "etc/passwd"), None)],
    "hardlink-dir": [(ti("d", tarfile.DIRTYPE), None), (ti("h", tarfile.LNKTYPE, "d"), None)],
    "symlink-abs-through": [(ti("abs", tarfile.SYMTYPE, "/tmp"), None),
                            (ti("abs/pwned", size=1), b"x")],
    "symlink-rel-through": [(ti("rel", tarfile.SYMTYPE, depth + "tmp"), None),
                            (ti("rel/pwned", size=1), b"x")],
    "symlink-root-hardlink": [(ti("r", tarfile.SYMTYPE, "/"), None),
                              (ti("h", tarfile.LNKTYPE, "r/etc/passwd"), None)],
    "symlink-replace-dir": [(ti("d", tarfile.DIRTYPE), None), (ti("d", tarfile.SYMTYPE, "/tmp"), None),
                            (ti("d/pwned", size=1), b"x")],
    "device-char": [(ti("dev", tarfile.DIRTYPE), None),
                    (ti("dev/mem", tarfile.CHRTYPE, devmajor=1, devminor=1), None)],
    "device-block": [(ti("sda", tarfile.BLKTYPE, devmajor=8, devminor=0), None)],
    "whiteout-dotdot": [(ti("a/.wh...", size=0), None)],
    "long-component": [(ti("b" * 300, size=1), b"x")],
    "long-path": [(ti("a/" * 2500 + "x", size=1), b"x")],
    "long-link": [(ti("l", tarfile.SYMTYPE, "t" * 5000), None)],
}
for name, ents in hostile.items():
    try:
        out("unpack", "h-" + name, tar(ents))
    except Exception as e:  # tarfile refuses some (e.g. the size lie): build by hand below
        print("skip", name, e)
pax = ti("f", size=1)
pax.pax_headers = {"comment": "x" * (1100 << 10)}
out("unpack", "h-huge-pax", tar([(pax, b"x")], "gzip"))
hdr = bytearray(tar([(ti("f", size=1), b"x")], fmt=tarfile.USTAR_FORMAT)[:512])
hdr[124:136] = b"77777777777\0"  # size 8 GiB, no data behind it
hdr[148:156] = b"        "
hdr[148:156] = b"%06o\0 " % sum(hdr)
out("unpack", "h-size-lie", bytes(hdr) + b"\0" * 1024)
out("unpack", "h-truncated-gzip", tar(base, "gzip")[:100])


# ---- cri_request and rpc (protobuf requests)
def stubs():
    from grpc_tools import protoc
    import grpc_tools
    d = tempfile.mkdtemp(prefix="cric-seed-stubs-")
    inc = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    assert protoc.main(["protoc", f"-I{REPO}/api", f"-I{inc}", f"--python_out={d}",
                        f"{REPO}/api/cri.proto"]) == 0
    sys.path.insert(0, d)
    import cri_pb2
    return cri_pb2


pb = stubs()
rt = pb.DESCRIPTOR.services_by_name["RuntimeService"]
im = pb.DESCRIPTOR.services_by_name["ImageService"]
md = pb.PodSandboxMetadata(name="p", namespace="default", uid="u1", attempt=0)
sbcfg = pb.PodSandboxConfig(metadata=md, hostname="p", log_directory="/var/log/pods/x",
                            port_mappings=[pb.PortMapping(container_port=80, host_port=8080)],
                            labels={"a": "b"},
                            linux=pb.LinuxPodSandboxConfig(cgroup_parent="/kubepods/p",
                                                           sysctls={"net.ipv4.ip_forward": "1"}))
ccfg = pb.ContainerConfig(
    metadata=pb.ContainerMetadata(name="c"), image=pb.ImageSpec(image="busybox"),
    command=["sh"], args=["-c", "true"], working_dir="/", envs=[pb.KeyValue(key="A", value=b"1")],
    mounts=[pb.Mount(container_path="/data", host_path="/tmp", readonly=True),
            pb.Mount(container_path="/dev/x", host_path="/dev/null")],
    devices=[pb.Device(container_path="/dev/z", host_path="/dev/zero", permissions="rwm")],
    log_path="c/0.log", tty=True,
    linux=pb.LinuxContainerConfig(
        resources=pb.LinuxContainerResources(cpu_shares=512, memory_limit_in_bytes=1 << 26),
        security_context=pb.LinuxContainerSecurityContext(
            capabilities=pb.Capability(add_capabilities=["NET_ADMIN"]),
            run_as_user=pb.Int64Value(value=1000),
            seccomp=pb.SecurityProfile(profile_type=pb.SecurityProfile.RuntimeDefault))))
SID = "fedcba9876543210" * 4
reqs = {
    "Version": pb.VersionRequest(version="v1"),
    "RunPodSandbox": pb.RunPodSandboxRequest(config=sbcfg, runtime_handler="crun"),
    "StopPodSandbox": pb.StopPodSandboxRequest(pod_sandbox_id=SID),
    "PodSandboxStatus": pb.PodSandboxStatusRequest(pod_sandbox_id="../../etc", verbose=True),
    "ListPodSandbox": pb.ListPodSandboxRequest(filter=pb.PodSandboxFilter(
        label_selector={"a": "b"})),
    "CreateContainer": pb.CreateContainerRequest(pod_sandbox_id=SID, config=ccfg,
                                                 sandbox_config=sbcfg),
    "RemoveContainer": pb.RemoveContainerRequest(container_id=BIG),
    "ExecSync": pb.ExecSyncRequest(container_id="abc", cmd=["ls", "/"], timeout=5),
    "Exec": pb.ExecRequest(container_id="abc", cmd=["sh"], tty=True, stdin=True, stdout=True),
    "PortForward": pb.PortForwardRequest(pod_sandbox_id=SID, port=[80, 70000]),
    "UpdateContainerResources": pb.UpdateContainerResourcesRequest(
        container_id="abc", linux=pb.LinuxContainerResources(cpuset_cpus="0-1",
                                                             unified={"memory.max": "1G"})),
    "ReopenContainerLog": pb.ReopenContainerLogRequest(container_id="a/b"),
    "PullImage": pb.PullImageRequest(image=pb.ImageSpec(image="localhost:5000/busybox:latest"),
                                     auth=pb.AuthConfig(username="u", password="p")),
    "ImageStatus": pb.ImageStatusRequest(image=pb.ImageSpec(image="busybox@" + D1)),
    "RemoveImage": pb.RemoveImageRequest(image=pb.ImageSpec(image="..")),
    "UpdateRuntimeConfig": pb.UpdateRuntimeConfigRequest(runtime_config=pb.RuntimeConfig(
        network_config=pb.NetworkConfig(pod_cidr="10.0.0.0/16"))),
}
hostile_cfg = pb.ContainerConfig()
hostile_cfg.CopyFrom(ccfg)
hostile_cfg.metadata.name = "../x"
hostile_cfg.log_path = "../../etc/passwd"
del hostile_cfg.mounts[:]
hostile_cfg.mounts.append(pb.Mount(container_path="../../../etc", host_path="/"))
hostile_sb = pb.PodSandboxConfig()
hostile_sb.CopyFrom(sbcfg)
hostile_sb.metadata.name = "a/b"
hostile_sb.log_directory = "relative/../x"
hostile_sb.linux.cgroup_parent = "/../../x"
extra = {
    "CreateContainer-hostile": ("CreateContainer", pb.CreateContainerRequest(
        pod_sandbox_id=SID, config=hostile_cfg)),
    "RunPodSandbox-hostile": ("RunPodSandbox", pb.RunPodSandboxRequest(config=hostile_sb)),
    "RunPodSandbox-big": ("RunPodSandbox", pb.RunPodSandboxRequest(config=pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=BIG, namespace=BIG)))),
    "StopContainer-nul": ("StopContainer", pb.StopContainerRequest(container_id="abc\0/../x")),
    "ContainerStatus-nul": ("ContainerStatus", pb.ContainerStatusRequest(container_id="\0")),
}


def method_index(name):
    for svc, flag in ((rt, 0), (im, 0x80)):
        for i, m in enumerate(svc.methods):
            if m.name == name:
                return flag | i, svc
    raise KeyError(name)


items = [(k, k, v) for k, v in reqs.items()] + [(k, m, v) for k, (m, v) in extra.items()]
for label, method, msg in items:
    sel, _ = method_index(method)
    out("cri_request", label, bytes([sel]) + msg.SerializeToString())
out("cri_request", "bad-utf8", bytes([method_index("ContainerStatus")[0]]) + b"\x0a\x02\xff\xfe")


# ---- rpc: HTTP/2 frames after the preface
def frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def hpack_lit(name, value):
    def s(b):
        assert len(b) < 127
        return bytes([len(b)]) + b
    return b"\x00" + s(name) + s(value)  # literal without indexing, new name


def headers(path, extra=(), ctype=b"application/grpc"):
    h = b"\x83\x86"  # :method POST, :scheme http
    h += hpack_lit(b":path", path) + hpack_lit(b":authority", b"localhost")
    h += hpack_lit(b"content-type", ctype) + hpack_lit(b"te", b"trailers")
    for k, v in extra:
        h += hpack_lit(k, v)
    return h


SETTINGS = frame(4, 0, 0, b"")


def grpc_msg(b):
    return b"\x00" + struct.pack(">I", len(b)) + b


def call(sid, method, msg, extra=()):
    svc = "runtime.v1.RuntimeService" if method_index(method)[1] is rt else "runtime.v1.ImageService"
    path = ("/%s/%s" % (svc, method)).encode()
    return frame(1, 4, sid, headers(path, extra)) + frame(0, 1, sid, grpc_msg(msg.SerializeToString()))


out("rpc", "00-version", SETTINGS + call(1, "Version", reqs["Version"]))
out("rpc", "01-many", SETTINGS + b"".join(call(1 + 2 * i, m, reqs[m]) for i, m in enumerate(
    ["RunPodSandbox", "CreateContainer", "PullImage", "ListPodSandbox", "ExecSync"])))
out("rpc", "02-timeout", SETTINGS + call(1, "Status", pb.StatusRequest(),
                                        [(b"grpc-timeout", b"5S")]))
out("rpc", "03-badtimeout", SETTINGS + call(1, "Status", pb.StatusRequest(),
                                           [(b"grpc-timeout", b"99999999999H")]))
out("rpc", "04-compressed", SETTINGS + frame(1, 4, 1, headers(
    b"/runtime.v1.RuntimeService/Version", [(b"grpc-encoding", b"gzip")])) +
    frame(0, 1, 1, b"\x01" + struct.pack(">I", 3) + b"abc"))
out("rpc", "05-unknown", SETTINGS + frame(1, 5, 1, headers(b"/x.Y/Z")))
out("rpc", "06-split", SETTINGS + frame(1, 4, 1, headers(b"/runtime.v1.RuntimeService/Version")) +
    frame(0, 0, 1, b"\x00\x00\x00") + frame(0, 0, 1, b"\x00\x04\x0a\x02") + frame(0, 1, 1, b"v1"))
out("rpc", "07-rst", SETTINGS + frame(1, 4, 1, headers(b"/runtime.v1.RuntimeService/Version")) +
    frame(3, 0, 1, struct.pack(">I", 8)))
out("rpc", "08-twomsgs", SETTINGS + frame(1, 4, 1, headers(b"/runtime.v1.RuntimeService/Version")) +
    frame(0, 1, 1, grpc_msg(b"") + grpc_msg(b"")))
out("rpc", "09-huge-prefix", SETTINGS + frame(1, 4, 1, headers(b"/runtime.v1.RuntimeService/Version"))
    + frame(0, 1, 1, b"\x00\xff\xff\xff\xff"))
out("rpc", "10-nul-id", SETTINGS + call(1, "StopContainer", extra["StopContainer-nul"][1]))
out("rpc", "11-get", SETTINGS + frame(1, 5, 1, b"\x82\x86" + hpack_lit(b":path", b"/") +
                                      hpack_lit(b":authority", b"x")))
out("rpc", "12-ctype", SETTINGS + frame(1, 5, 1, headers(b"/runtime.v1.RuntimeService/Version",
                                                        ctype=b"text/html")))
out("rpc", "13-events", SETTINGS + call(1, "GetContainerEvents", pb.GetEventsRequest()))
out("rpc", "14-ping-goaway", SETTINGS + frame(6, 0, 0, b"12345678") +
    frame(7, 0, 0, struct.pack(">II", 0, 0)))
out("rpc", "15-window", SETTINGS + frame(8, 0, 0, struct.pack(">I", 0x7fffffff)) +
    frame(8, 0, 0, struct.pack(">I", 0x7fffffff)))


# ---- stream_server: first byte = protocol (0 SPDY, 1 WS v5, 2 WS base64, 3 WS v4)
# | 0x08 tty | 0x10 stdin | 0x20 stdout | 0x40 stderr; then the client's bytes.
def ws(payload, opcode=2, fin=True, key=b"\x01\x02\x03\x04"):
    n = len(payload)
    h = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        h += bytes([0x80 | n])
    elif n < 65536:
        h += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        h += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return h + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


attach_streams = [[(b"streamtype", b"error")], [(b"streamtype", b"stdin")],
                  [(b"streamtype", b"stdout")]]
out("stream_server", "00-spdy-attach", bytes([0x30]) + spdy(
    attach_streams, struct.pack(">II", 3, (1 << 24) | 2) + b"hi"))
out("stream_server", "01-spdy-tty", bytes([0x38]) + spdy(
    attach_streams + [[(b"streamtype", b"resize")]],
    struct.pack(">II", 7, 25) + b'{"Width":80,"Height":24}'))
out("stream_server", "02-spdy-rst-ping", bytes([0x20]) + spdy(
    [[(b"streamtype", b"error")], [(b"streamtype", b"stdout")]],
    control(3, 0, struct.pack(">II", 3, 5)) + control(6, 0, struct.pack(">I", 1)) +
    control(7, 0, struct.pack(">II", 0, 0))))
out("stream_server", "03-ws-v5", bytes([0x31]) + ws(b"\x00hello") + ws(b"\xff\x00") +
    ws(b"", opcode=8))
out("stream_server", "04-ws-base64", bytes([0x32]) + ws(b"0aGk=", opcode=1) +
    ws(b"4eyJXaWR0aCI6ODAsIkhlaWdodCI6MjR9", opcode=1) + ws(b"\x03\xe8", opcode=8))
out("stream_server", "05-ws-v4-tty", bytes([0x3b]) + ws(b"\x04{\"Width\":1,\"Height\":2}") +
    ws(b"ping", opcode=9) + ws(b"\x00x", fin=False) + ws(b"y", opcode=0))
out("stream_server", "06-ws-unmasked", bytes([0x31]) + b"\x82\x02\x00x")
out("stream_server", "07-ws-huge", bytes([0x31]) + b"\x82\xff" + struct.pack(">Q", 1 << 62) + b"abcd")
# stream_ws also cuts its input into client frames (src/stream/wsframe.c)
out("stream_ws", "frames-00", ws(b"\x00hello") + ws(b"\xff\x00") + ws(b"", opcode=8))
out("stream_ws", "frames-01", ws(b"0aGk=", opcode=1) + ws(b"ping", opcode=9) +
    ws(b"\x00x", fin=False) + ws(b"y", opcode=0) + ws(b"\x03\xe8", opcode=8))
out("stream_ws", "frames-02", ws(b"z" * 300) + ws(b"w" * 70000)[:200])
out("stream_ws", "frames-03", b"\x82\x02\x00x" + b"\x89\xfe\x00\x80" + b"\x82\xff" +
    struct.pack(">Q", 1 << 62) + b"abcd")
out("stream_server", "08-spdy-bad", bytes([0x30]) + control(1, 0, b"\x00" * 10))
print("seeds written to", os.path.join(HERE, "corpus"))
