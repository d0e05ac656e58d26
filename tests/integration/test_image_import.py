"""`cric image import FILE`: OCI image layouts and docker-save archives,
imported beside a running daemon, then visible over CRI."""
import gzip
import io
import json
import os
import subprocess
import tarfile

import pytest

from conftest import CRIC
from registry import ENV, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, busybox_layer_cached, sha


def config_for(layers, label):
    return json.dumps({"architecture": "amd64", "os": "linux",
                       "config": {"Env": ENV, "Cmd": ["sh"], "Labels": {"l": label}},
                       "rootfs": {"type": "layers",
                                  "diff_ids": [sha(raw) for raw, _, _ in layers]}},
                      sort_keys=True).encode()


def tar_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def oci_layout(name):
    layers = [busybox_layer_cached()]
    cfg = config_for(layers, "oci")
    man = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": {"mediaType": OCI_CONFIG, "digest": sha(cfg), "size": len(cfg)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                  "digest": sha(b), "size": len(b)} for _, b, _ in layers]}).encode()
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha(man), "size": len(man),
         "annotations": {"io.containerd.image.name": name,
                         "org.opencontainers.image.ref.name": "1"}}]}).encode()
    files = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
    for blob in [cfg, man] + [b for _, b, _ in layers]:
        files.append(("blobs/sha256/" + sha(blob)[7:], blob))
    return tar_of(files), sha(cfg)


def docker_save(tags):
    layers = [busybox_layer_cached()]
    cfg = config_for(layers, "docker")
    files = [(sha(cfg)[7:] + ".json", cfg)]
    paths = []
    for raw, _, _ in layers:
        p = sha(raw)[7:] + "/layer.tar"
        files.append((p, raw))
        paths.append(p)
    files.append(("manifest.json", json.dumps([{"Config": sha(cfg)[7:] + ".json",
                                                "RepoTags": tags, "Layers": paths}]).encode()))
    return tar_of(files), sha(cfg)


def run_import(d, path):
    return subprocess.run([CRIC, "image", "import", path, "--root", d.root, "--config",
                           d.config_path, "--log-level", "warn"],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("kind", ["oci", "oci-dir", "docker", "docker-gz"])
def test_import_beside_running_daemon(daemon, pb, tmp_path, kind):
    if kind.startswith("oci"):
        data, want = oci_layout("example.com/app/imported:1")
        ref = "example.com/app/imported:1"
    else:
        data, want = docker_save(["imported:latest", "imported:v2"])
        ref = "imported:v2"
        if kind == "docker-gz":
            data = gzip.compress(data, compresslevel=1)
    path = tmp_path / "image.tar"
    path.write_bytes(data)
    if kind == "oci-dir":
        path = tmp_path / "layout"
        path.mkdir()
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            t.extractall(path)
    out = run_import(daemon, str(path))
    assert out.returncode == 0, out.stderr
    assert want in out.stdout
    st = daemon.image().ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=ref))).image
    assert st.id == want
    if not kind.startswith("oci"):
        assert sorted(st.repo_tags) == ["docker.io/library/imported:latest",
                                        "docker.io/library/imported:v2"]
    assert os.listdir(os.path.join(daemon.root, "content", "tmp")) == []


def test_import_rejects_garbage(daemon, tmp_path):
    p = tmp_path / "junk.tar"
    p.write_bytes(tar_of([("hello", b"world")]))
    out = run_import(daemon, str(p))
    assert out.returncode != 0
    assert "neither an OCI layout" in out.stderr
    assert os.listdir(os.path.join(daemon.root, "content", "tmp")) == []
