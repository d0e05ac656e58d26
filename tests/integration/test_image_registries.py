"""Registry configuration end to end: TLS with a private CA (ca_file),
htpasswd Basic auth (success and failure messages), insecure registries and
mirrors with fallback."""
import base64

import grpc
import pytest

from registry import Registry, busybox_layer_cached


@pytest.fixture(scope="module")
def secure_registry():
    r = Registry(tls=True, auth=("alice", "s3cret")).start()
    r.push("private/busybox", ["latest"], [busybox_layer_cached()])
    yield r
    r.stop()


def pull(d, pb, ref, **auth):
    req = pb.PullImageRequest(image=pb.ImageSpec(image=ref))
    for k, v in auth.items():
        setattr(req.auth, k, v)
    return d.image().PullImage(req, timeout=120).image_ref


def expect_error(d, pb, ref, code, needles, **auth):
    with pytest.raises(grpc.RpcError) as e:
        pull(d, pb, ref, **auth)
    assert e.value.code() == code, e.value.details()
    for n in needles:
        assert n in e.value.details(), e.value.details()


def test_tls_and_basic_auth(secure_registry, registry, make_daemon, pb):
    r = secure_registry
    ref = r.ref("private/busybox:latest")
    want = r.images["private/busybox"].id
    # A CA that did not sign the server's certificate: verification fails.
    d = make_daemon(config={"registries": {r.host: {"ca_file": registry.ca_file or "/etc/ssl/certs/ca-certificates.crt"}}})
    expect_error(d, pb, ref, grpc.StatusCode.UNAVAILABLE, ["TLS", r.host])
    d.stop()

    d = make_daemon(config={"registries": {r.host: {"ca_file": r.ca_file}}})
    expect_error(d, pb, ref, grpc.StatusCode.PERMISSION_DENIED,
                 ["authentication required", "no credentials"])
    expect_error(d, pb, ref, grpc.StatusCode.PERMISSION_DENIED,
                 ["credentials rejected for user alice"], username="alice", password="wrong")
    # Credentials meant for another registry are not sent here.
    expect_error(d, pb, ref, grpc.StatusCode.PERMISSION_DENIED, ["no credentials"],
                 username="alice", password="s3cret", server_address="other.example.com")
    assert pull(d, pb, ref, username="alice", password="s3cret",
                server_address="https://%s/v2/" % r.host) == want
    d.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=ref)))
    assert pull(d, pb, ref, username="alice", password="s3cret") == want
    img = d.image().ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=ref))).image
    assert img.id == want
    d.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=ref)))
    # The base64 "auth" form of the same credentials.
    assert pull(d, pb, ref, auth=base64.b64encode(b"alice:s3cret").decode()) == want
    expect_error(d, pb, ref, grpc.StatusCode.INVALID_ARGUMENT, ["base64"], auth="!!!")


def test_insecure_registry_skips_verification(secure_registry, make_daemon, pb):
    r = secure_registry
    d = make_daemon(config={"registries": {r.host: {"insecure": True}}})
    assert pull(d, pb, r.ref("private/busybox:latest"), username="alice",
                password="s3cret") == r.images["private/busybox"].id


def test_insecure_plain_http_fallback(registry, make_daemon, pb):
    d = make_daemon(config={"registries": {registry.host: {"insecure": True}}})
    assert pull(d, pb, registry.ref("busybox:latest")) == registry.images["busybox"].id


def test_mirrors_in_order_then_upstream(registry, make_daemon, pb):
    bb = busybox_layer_cached()
    lib = registry.push("library/busybox", ["latest"], [bb], config={"Labels": {"m": "1"}})
    dead = "http://127.0.0.1:1"
    d = make_daemon(config={"registries": {
        "docker.io": {"mirrors": [dead, "http://" + registry.host]},
        "mirrored.example": {"mirrors": [dead, "http://%s/v2" % registry.host]},
        "nomirror.invalid": {"mirrors": [dead]},
        "prefixed.example": {"mirrors": ["http://%s/v2/mirrors/prefixed/" % registry.host]},
    }})
    # Short names normalise to docker.io/library/..., served by the second mirror.
    assert pull(d, pb, "busybox") == lib.id
    st = d.image().ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image="busybox"))).image
    assert list(st.repo_tags) == ["docker.io/library/busybox:latest"]
    assert pull(d, pb, "mirrored.example/busybox:1") == registry.images["busybox"].id
    # A mirror URL with a path is the API root as given (containerd's rule).
    pre = registry.push("mirrors/prefixed/team/app", ["v1"], [bb], config={"Labels": {"m": "2"}})
    assert pull(d, pb, "prefixed.example/team/app:v1") == pre.id
    st = d.image().ImageStatus(pb.ImageStatusRequest(
        image=pb.ImageSpec(image="prefixed.example/team/app:v1"))).image
    assert list(st.repo_tags) == ["prefixed.example/team/app:v1"]
    # Every mirror fails, then the upstream (unresolvable here) does too.
    with pytest.raises(grpc.RpcError) as e:
        pull(d, pb, "nomirror.invalid/busybox:latest")
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "nomirror.invalid" in e.value.details()


def test_bearer_token_flow(registry, make_daemon, pb):
    from registry import TokenServer
    bb = busybox_layer_cached()
    plain = Registry().start()
    tok = None
    secured = None
    try:
        pub = plain.push("public/busybox", ["latest"], [bb])
        priv = plain.push("team/busybox", ["latest"], [bb], config={"Labels": {"p": "1"}})
        plain.proc.terminate()
        plain.proc.wait()
        plain.proc = None
        tok = TokenServer({"bob": "hunter2"}, refresh_tokens={"rt-bob-7f3e": "bob"})
        secured = plain.restart_with(token=tok)
        d = make_daemon()
        # Anonymous token for a public repository.
        assert pull(d, pb, secured.ref("public/busybox:latest")) == pub.id
        assert (None, "repository:public/busybox:pull") in tok.requests
        # A private repository: the anonymous token grants nothing.
        with pytest.raises(grpc.RpcError) as e:
            pull(d, pb, secured.ref("team/busybox:latest"))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
        # Wrong password: the token server refuses.
        with pytest.raises(grpc.RpcError) as e:
            pull(d, pb, secured.ref("team/busybox:latest"), username="bob", password="nope")
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "authentication failed for user bob" in e.value.details()
        assert pull(d, pb, secured.ref("team/busybox:latest"), username="bob",
                    password="hunter2") == priv.id
        assert ("bob", "repository:team/busybox:pull") in tok.requests
        # A registry token passed as is.
        d.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=priv.id)))
        access = [{"type": "repository", "name": "team/busybox", "actions": ["pull"]}]
        assert pull(d, pb, secured.ref("team/busybox:latest"),
                    registry_token=tok.sign("bob", access)) == priv.id
        # An identity token (OAuth2 refresh token): exchanged by form POST.
        d.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=priv.id)))
        assert pull(d, pb, secured.ref("team/busybox:latest"),
                    identity_token="rt-bob-7f3e") == priv.id
        assert ("refresh:bob", "repository:team/busybox:pull") in tok.requests
        # An unknown identity token: refused, and the token never shows in the message.
        d.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=priv.id)))
        with pytest.raises(grpc.RpcError) as e:
            pull(d, pb, secured.ref("team/busybox:latest"), identity_token="rt-stolen-0000")
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED, e.value.details()
        assert ("bad-refresh", "repository:team/busybox:pull") in tok.requests
        assert "rt-stolen" not in e.value.details() and "rt-stolen" not in d.log()
    finally:
        if secured:
            secured.stop()
        plain.stop()
        if tok:
            tok.stop()
