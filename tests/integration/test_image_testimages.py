"""The critest image set (/work/shared/tools/testimages.py) pulled through
mirrors, the way the CRI validation suite runs offline."""
import json
import os
import subprocess

import pytest

from registry import Registry

TESTIMAGES = os.environ.get("CRIC_TESTIMAGES", "/work/shared/tools/testimages.py")


@pytest.mark.skipif(not os.path.exists(TESTIMAGES), reason="testimages.py not available")
def test_pull_critest_images_through_mirrors(make_daemon, pb):
    r = Registry().start()
    try:
        out = subprocess.run(["/usr/bin/python3", TESTIMAGES, r.host], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        pushed = json.loads(out.stdout)
        mirror = {"mirrors": ["http://" + r.host]}
        d = make_daemon(config={"registries": {h: mirror for h in
                                               ["registry.k8s.io", "gcr.io", "docker.io",
                                                "public.ecr.aws"]}})
        im = d.image()
        ids = {}
        for ref in ["registry.k8s.io/e2e-test-images/busybox:1.29-2", "busybox:1.36",
                    "registry.k8s.io/pause:3.9",
                    "gcr.io/k8s-staging-cri-tools/test-image-user-username:latest"]:
            ids[ref] = im.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)),
                                    timeout=120).image_ref
        st = im.ImageStatus(pb.ImageStatusRequest(
            image=pb.ImageSpec(image="registry.k8s.io/e2e-test-images/busybox:1.29-2"))).image
        assert ("registry.k8s.io/e2e-test-images/busybox@" + pushed["e2e-test-images/busybox"]
                in st.repo_digests)
        # Every name of an image gives the same status (critest "all kinds of references").
        by_id = im.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=st.id))).image
        assert by_id == st
        for name in list(st.repo_tags) + list(st.repo_digests):
            assert im.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=name))).image == st
        user = im.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(
            image="gcr.io/k8s-staging-cri-tools/test-image-user-username"))).image
        assert user.username == "www-data" and not user.HasField("uid")
        # The configured pause image is pinned; others are not.
        listed = {i.id: i for i in im.ListImages(pb.ListImagesRequest()).images}
        assert listed[ids["registry.k8s.io/pause:3.9"]].pinned
        assert not listed[ids["busybox:1.36"]].pinned
    finally:
        r.stop()
