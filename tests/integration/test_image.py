"""ImageService against a real docker-registry: pull (OCI, Docker, indexes,
gzip/zstd/plain layers, whiteouts), status, list, remove, fs info."""
import os
import stat
import threading

import grpc
import pytest

from registry import Layer, busybox_layer_cached, sha


def pull(d, pb, ref, auth=None):
    req = pb.PullImageRequest(image=pb.ImageSpec(image=ref))
    if auth is not None:
        req.auth.CopyFrom(auth)
    return d.image().PullImage(req, timeout=120).image_ref


def status(d, pb, ref, verbose=False):
    return d.image().ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=ref),
                                                       verbose=verbose), timeout=30)


def list_ids(d, pb, filt=None):
    req = pb.ListImagesRequest()
    if filt is not None:
        req.filter.image.image = filt
    return sorted(i.id for i in d.image().ListImages(req, timeout=30).images)


def layer_dirs(d):
    ld = os.path.join(d.root, "layers")
    return sorted(x for x in os.listdir(ld)) if os.path.isdir(ld) else []


def test_pull_status_list_by_every_name(registry, daemon, pb):
    img = registry.images["busybox"]
    ref = registry.ref("busybox:latest")
    assert pull(daemon, pb, ref) == img.id
    hexid = img.id.split(":")[1]
    for name in [ref, registry.ref("busybox@" + img.digest), img.id, hexid, hexid[:12]]:
        st = status(daemon, pb, name)
        assert st.image.id == img.id, name
    st = status(daemon, pb, ref, verbose=True)
    assert st.image.repo_tags == [ref]
    assert st.image.repo_digests == [registry.ref("busybox@" + img.digest)]
    assert st.image.size > 0
    assert st.image.spec.image == img.id
    assert '"imageSpec"' in st.info["info"] and '"Cmd":["sh"]' in st.info["info"]
    # The unpacked layer is a real busybox tree.
    (chain,) = layer_dirs(daemon)
    fs = os.path.join(daemon.root, "layers", chain, "fs")
    assert os.stat(os.path.join(fs, "bin/ls")).st_ino == os.stat(os.path.join(fs, "bin/busybox")).st_ino
    assert stat.S_IMODE(os.stat(os.path.join(fs, "tmp")).st_mode) == 0o1777
    # Absent images: empty status, empty filtered list.
    assert not status(daemon, pb, registry.ref("nothere:latest")).HasField("image")
    assert not status(daemon, pb, "sha256:" + "0" * 64).HasField("image")
    assert list_ids(daemon, pb, registry.ref("nothere:1")) == []
    assert list_ids(daemon, pb, ref) == [img.id]
    # A second pull of the same image is a no-op with the same answer.
    assert pull(daemon, pb, registry.ref("busybox:1")) == img.id
    assert sorted(status(daemon, pb, ref).image.repo_tags) == [registry.ref("busybox:1"), ref]
    info = daemon.image().ImageFsInfo(pb.ImageFsInfoRequest())
    fsinfo = info.image_filesystems[0]
    assert fsinfo.used_bytes.value > 1_000_000 and fsinfo.inodes_used.value > 10
    assert fsinfo.fs_id.mountpoint == daemon.root
    assert info.container_filesystems[0].fs_id.mountpoint == daemon.root


def test_multilayer_whiteouts_and_compressions(registry, daemon, pb):
    img = registry.images["multi"]
    assert pull(daemon, pb, registry.ref("multi:latest")) == img.id
    dirs = layer_dirs(daemon)
    assert len(dirs) == 3
    # The top layer (plain tar) holds the whiteout and the opaque directory.
    top = None
    for c in dirs:
        fs = os.path.join(daemon.root, "layers", c, "fs")
        if os.path.exists(os.path.join(fs, "data/c")):
            top = fs
    assert top is not None
    wh = os.lstat(os.path.join(top, "etc/motd"))
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(os.path.join(top, "data"), "trusted.overlay.opaque") == b"y"
    c = os.stat(os.path.join(top, "data/c"))
    assert stat.S_IMODE(c.st_mode) == 0o4755 and c.st_uid == 1000 and c.st_gid == 1000
    assert not os.path.exists(os.path.join(top, "etc/.wh.motd"))


def test_indexes_pick_the_host_platform(registry, daemon, pb):
    for repo in ["multiarch", "multiarch-docker", "busybox-docker"]:
        img = registry.images[repo]
        assert pull(daemon, pb, registry.ref(repo + ":latest")) == img.id
        assert img.config["architecture"] == "amd64"
        st = status(daemon, pb, registry.ref(repo + "@" + img.digest))
        assert st.image.id == img.id
    # Only arm64 in the index: a clear NOT_FOUND naming the platforms.
    registry.push("armonly", ["latest"], [busybox_layer_cached()], platforms=[("arm64", "v8")])
    with pytest.raises(grpc.RpcError) as e:
        pull(daemon, pb, registry.ref("armonly:latest"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert "linux/amd64" in e.value.details() and "linux/arm64/v8" in e.value.details()


def test_remove_by_tag_digest_id_and_layer_sharing(registry, daemon, pb):
    bb = registry.images["busybox"]
    multi = registry.images["multi"]
    pull(daemon, pb, registry.ref("busybox:latest"))
    pull(daemon, pb, registry.ref("multi:latest"))
    assert len(layer_dirs(daemon)) == 3  # busybox's layer is shared
    daemon.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=registry.ref("multi:latest"))))
    assert list_ids(daemon, pb) == [bb.id]
    assert len(layer_dirs(daemon)) == 1
    # Idempotent, and by digest / id.
    daemon.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=registry.ref("multi:latest"))))
    daemon.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=registry.ref("busybox@" + bb.digest))))
    assert list_ids(daemon, pb) == []
    assert layer_dirs(daemon) == []
    pull(daemon, pb, registry.ref("busybox:latest"))
    # Manifests and configs go with the last image using them (blobs younger
    # than a minute are spared for in-flight pulls: age them).
    content = os.path.join(daemon.root, "content", "sha256")
    assert len(os.listdir(content)) >= 2
    for f in os.listdir(content):
        os.utime(os.path.join(content, f), (0, 0))
    daemon.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=bb.id)))
    assert list_ids(daemon, pb) == [] and layer_dirs(daemon) == []
    assert os.listdir(content) == []
    daemon.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image="sha256:" + "1" * 64)))


def test_tag_and_digest_reference_records_the_digest(registry, daemon, pb):
    img = registry.images["busybox"]
    ref = registry.ref("busybox:1@" + img.digest)
    assert pull(daemon, pb, ref) == img.id
    st = status(daemon, pb, ref).image
    assert list(st.repo_tags) == []
    assert list(st.repo_digests) == [registry.ref("busybox@" + img.digest)]


def test_tag_moves_to_newest_pull(registry, daemon, pb):
    bb = busybox_layer_cached()
    a = registry.push("moving", ["v1"], [bb], config={"Labels": {"gen": "a"}})
    assert pull(daemon, pb, registry.ref("moving:v1")) == a.id
    b = registry.push("moving", ["v1"], [bb], config={"Labels": {"gen": "b"}})
    assert a.id != b.id
    assert pull(daemon, pb, registry.ref("moving:v1")) == b.id
    assert status(daemon, pb, registry.ref("moving:v1")).image.id == b.id
    old = status(daemon, pb, a.id).image
    assert list(old.repo_tags) == [] and old.id == a.id
    assert sorted(list_ids(daemon, pb)) == sorted([a.id, b.id])


def test_users_from_config(registry, daemon, pb):
    bb = busybox_layer_cached()
    for user, uid, name in [("1002", 1002, ""), ("1003:1004", 1003, ""),
                            ("www-data", None, "www-data"), ("nobody:1", None, "nobody")]:
        img = registry.push("user-" + str(abs(hash(user)) % 1000), ["latest"], [bb], user=user)
        pull(daemon, pb, registry.ref(img.repo + ":latest"))
        st = status(daemon, pb, img.id).image
        if uid is None:
            assert not st.HasField("uid") and st.username == name
        else:
            assert st.uid.value == uid and st.username == ""


def test_bad_references_are_invalid_argument(daemon, pb):
    for ref, needle in [("Busybox", "lowercase"), ("busybox:", "tag"), ("", "empty"),
                        ("busybox@sha256:123", "sha256"), ("a//b", "component")]:
        with pytest.raises(grpc.RpcError) as e:
            pull(daemon, pb, ref)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, ref
        assert needle in e.value.details(), (ref, e.value.details())


def test_missing_image_and_unreachable_registry(registry, daemon, pb):
    with pytest.raises(grpc.RpcError) as e:
        pull(daemon, pb, registry.ref("does-not-exist:latest"))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert "not found" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        pull(daemon, pb, "127.0.0.1:1/busybox:latest")
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "unreachable" in e.value.details()


def test_corrupt_blob_is_rejected_and_leaves_nothing(registry, daemon, pb):
    layer = Layer().file("payload", os.urandom(4096)).finish("gzip")
    img = registry.push("corrupt", ["latest"], [busybox_layer_cached(), layer])
    path = registry.blob_path(sha(layer[1]))
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        f.seek(0)
        f.write(data)
    with pytest.raises(grpc.RpcError) as e:
        pull(daemon, pb, registry.ref("corrupt:latest"))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "mismatch" in e.value.details() or "layer" in e.value.details()
    assert list_ids(daemon, pb) == []
    assert not [x for x in layer_dirs(daemon) if x.startswith(".tmp")]
    assert os.listdir(os.path.join(daemon.root, "content", "tmp")) == []


def test_concurrent_pulls_share_work(registry, daemon, pb):
    img = registry.images["multi"]
    results, errors = [], []

    def run():
        try:
            results.append(pull(daemon, pb, registry.ref("multi:latest")))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [img.id] * 4
    assert len(layer_dirs(daemon)) == 3


def test_stream_images_matches_list(registry, daemon, pb):
    pull(daemon, pb, registry.ref("busybox:latest"))
    pull(daemon, pb, registry.ref("multi:latest"))
    got = []
    for chunk in daemon.image().StreamImages(pb.StreamImagesRequest(), timeout=30):
        got += [i.id for i in chunk.images]
    assert sorted(got) == list_ids(daemon, pb)
    req = pb.StreamImagesRequest()
    req.filter.image.image = registry.ref("multi:latest")
    got = [i.id for c in daemon.image().StreamImages(req, timeout=30) for i in c.images]
    assert got == [registry.images["multi"].id]


def test_parallel_pulls_and_removes_keep_shared_layers_consistent(registry, daemon, pb):
    """Pulls of images sharing a base layer race with removals of one of them;
    afterwards every listed image still has all its layers on disk."""
    refs = [registry.ref(r) for r in ["multi:latest", "busybox:latest", "multiarch:latest"]]
    errors = []

    def puller(ref):
        try:
            for _ in range(3):
                pull(daemon, pb, ref)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    def remover():
        try:
            for _ in range(6):
                daemon.image().RemoveImage(pb.RemoveImageRequest(
                    image=pb.ImageSpec(image=registry.ref("busybox:latest"))))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=puller, args=(r,)) for r in refs]
    threads.append(threading.Thread(target=remover))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # multi has 3 layers, busybox/multiarch share multi's base layer.
    assert pull(daemon, pb, refs[0]) == registry.images["multi"].id
    assert pull(daemon, pb, refs[1]) == registry.images["busybox"].id
    assert len(layer_dirs(daemon)) == 3
    daemon.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=refs[0])))
    assert len(layer_dirs(daemon)) == 1  # the shared base stays for busybox
    fs = os.path.join(daemon.root, "layers", layer_dirs(daemon)[0], "fs")
    assert os.path.isfile(os.path.join(fs, "bin", "busybox"))
