"""A real image registry for integration tests: Debian's docker-registry on
127.0.0.1 (free port, temporary storage), optionally with TLS (a self-signed
CA made with the openssl CLI) and htpasswd Basic auth, plus a small image
builder that makes layers from Debian's busybox-static and pushes them with
the registry HTTP API (OCI or Docker media types, indexes, gzip/zstd/plain).

Other tests use the session fixture `registry` (see conftest.py):

    def test_x(registry, make_daemon):
        ref = registry.ref("busybox:latest")      # "127.0.0.1:PORT/busybox:latest"
        registry.images["busybox"]                 # Pushed(digest, config_digest, ...)

and may push their own images with `registry.push(repo, tags, [layer, ...], config)`.
"""
import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import warnings

REGISTRY_BIN = "/usr/bin/docker-registry"
BUSYBOX = "/bin/busybox"
MTIME = 1577836800

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
D2_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
D2_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
D2_CONFIG = "application/vnd.docker.container.image.v1+json"
D2_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------ layers

class Layer:
    """A tar layer built in memory. finish(compression) -> (raw, blob, media suffix)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name, type_, mode, uid=0, gid=0):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = type_, mode, MTIME, uid, gid
        return ti

    def dir(self, name, mode=0o755, uid=0, gid=0):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode, uid, gid))
        return self

    def file(self, name, data, mode=0o644, uid=0, gid=0):
        ti = self._info(name, tarfile.REGTYPE, mode, uid, gid)
        ti.size = len(data)
        self.tar.addfile(ti, io.BytesIO(data))
        return self

    def hardlink(self, name, target):
        ti = self._info(name, tarfile.LNKTYPE, 0o755)
        ti.linkname = target
        self.tar.addfile(ti)
        return self

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tar.addfile(ti)
        return self

    def whiteout(self, path):
        d, base = os.path.split(path)
        return self.file(os.path.join(d, ".wh." + base), b"")

    def opaque(self, dirpath):
        return self.file(os.path.join(dirpath, ".wh..wh..opq"), b"")

    def raw_entry(self, ti, data=b""):
        self.tar.addfile(ti, io.BytesIO(data) if data else None)
        return self

    def finish(self, compression="gzip"):
        self.tar.close()
        return compress(self.buf.getvalue(), compression)


def compress(raw, compression="gzip"):
    """-> (raw, blob, compression)"""
    if compression == "gzip":
        return raw, gzip.compress(raw, compresslevel=1, mtime=0), compression
    if compression == "zstd":
        out = subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, stdout=subprocess.PIPE,
                             check=True).stdout
        return raw, out, compression
    return raw, raw, "none"


def busybox_layer(compression="gzip", applets=None):
    """Debian's static busybox with hard links for its applets (all by default)."""
    L = Layer()
    for d in ["bin", "etc", "root", "tmp", "var", "usr", "usr/bin", "usr/sbin", "sbin", "dev",
              "proc", "sys"]:
        L.dir(d, 0o1777 if d == "tmp" else 0o755)
    with open(BUSYBOX, "rb") as f:
        L.file("bin/busybox", f.read(), 0o755)
    names = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True).stdout.split()
    for a in sorted(set(names)):
        if a == "bin/busybox" or (applets is not None and os.path.basename(a) not in applets):
            continue
        L.hardlink(a, "bin/busybox")
    L.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    L.file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    return L.finish(compression)


_BUSYBOX_CACHE = {}


def busybox_layer_cached(compression="gzip"):
    if compression not in _BUSYBOX_CACHE:
        _BUSYBOX_CACHE[compression] = busybox_layer(compression)
    return _BUSYBOX_CACHE[compression]


def files_layer(files, compression="gzip"):
    """files: [(path, bytes[, mode])]"""
    L = Layer()
    for f in files:
        L.file(*f)
    return L.finish(compression)


def layer_media_type(compression, docker):
    if docker:
        return {"gzip": D2_LAYER, "none": "application/vnd.docker.image.rootfs.diff.tar"}[compression]
    return OCI_LAYER + {"gzip": "+gzip", "zstd": "+zstd", "none": ""}[compression]


class Pushed:
    def __init__(self, repo, digest, config_digest, manifest_digest, layers, config):
        self.repo = repo
        self.digest = digest                    # what the tag points at (index or manifest)
        self.config_digest = config_digest      # the image id cric reports (host platform)
        self.manifest_digest = manifest_digest  # the host platform's manifest
        self.layers = layers                    # [(raw, blob, compression)]
        self.config = config

    @property
    def id(self):
        return self.config_digest


# ------------------------------------------------------------------ registry

class Registry:
    """One docker-registry process. tls=True makes a CA + server cert
    (ca_file); auth=(user, password) turns on htpasswd Basic auth."""

    def __init__(self, tls=False, auth=None, token=None, storage=None):
        self.token = token  # a TokenServer: Bearer token auth
        self.storage = storage
        self.dir = tempfile.mkdtemp(prefix="cric-registry-", dir="/tmp")
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.tls = tls
        self.auth = auth
        self.ca_file = None
        self.proc = None
        self.images = {}

    # -- process
    def _make_certs(self):
        d = self.dir
        self.ca_file = os.path.join(d, "ca.pem")
        cakey = os.path.join(d, "ca.key")
        self.cert = os.path.join(d, "server.pem")
        self.key = os.path.join(d, "server.key")
        csr = os.path.join(d, "server.csr")
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cakey,
            "-out", self.ca_file, "-days", "2", "-subj", "/CN=cric test CA")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", csr,
            "-subj", "/CN=127.0.0.1")
        run("openssl", "x509", "-req", "-in", csr, "-CA", self.ca_file, "-CAkey", cakey,
            "-CAcreateserial", "-out", self.cert, "-days", "2", "-extfile", ext)

    def _htpasswd(self):
        user, password = self.auth
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import crypt
        h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))
        h = "$2a$" + h[4:]  # Go's bcrypt reads $2a$; the hash is the same
        path = os.path.join(self.dir, "htpasswd")
        with open(path, "w") as f:
            f.write("%s:%s\n" % (user, h))
        return path

    def start(self):
        storage = self.storage or os.path.join(self.dir, "storage")
        os.makedirs(storage, exist_ok=True)
        self.storage = storage
        lines = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
                 "storage:", "  filesystem:", "    rootdirectory: " + storage,
                 "  delete:", "    enabled: true", "http:", "  addr: " + self.host]
        if self.tls:
            self._make_certs()
            lines += ["  tls:", "    certificate: " + self.cert, "    key: " + self.key]
        if self.auth:
            lines += ["auth:", "  htpasswd:", "    realm: cric-test", "    path: " + self._htpasswd()]
        if self.token:
            lines += ["auth:", "  token:", "    realm: " + self.token.realm,
                      "    service: " + self.token.service, "    issuer: " + self.token.issuer,
                      "    rootcertbundle: " + self.token.cert]
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(self.dir, "registry.log")
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", cfg], stdout=self.logf,
                                     stderr=self.logf, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("docker-registry exited:\n" + open(self.log_path).read())
            try:
                self._req("GET", "/v2/")
                return self
            except urllib.error.HTTPError as e:
                if e.code == 401:
                    return self
                raise
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not answer on " + self.host)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.logf.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart_with(self, **kw):
        """A new registry process on the same storage (e.g. with auth after
        pushing without)."""
        r = Registry(storage=self.storage, **kw)
        r.images = self.images
        return r.start()

    # -- HTTP API
    @property
    def base(self):
        return ("https://" if self.tls else "http://") + self.host

    def _req(self, method, url, data=None, headers=None):
        headers = dict(headers or {})
        if self.auth:
            tok = base64.b64encode(("%s:%s" % self.auth).encode()).decode()
            headers["Authorization"] = "Basic " + tok
        req = urllib.request.Request(url if url.startswith("http") else self.base + url,
                                     data=data, method=method, headers=headers)
        ctx = ssl.create_default_context(cafile=self.ca_file) if self.tls else None
        return urllib.request.urlopen(req, context=ctx, timeout=60)

    def blob(self, repo, data):
        d = sha(data)
        try:
            self._req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
            return d
        except urllib.error.HTTPError:
            pass
        r = self._req("POST", "/v2/%s/blobs/uploads/" % repo)
        loc = r.headers["Location"]
        sep = "&" if "?" in loc else "?"
        self._req("PUT", "%s%sdigest=%s" % (loc, sep, d), data,
                  {"Content-Type": "application/octet-stream"})
        return d

    def manifest(self, repo, ref, body, mediatype):
        self._req("PUT", "/v2/%s/manifests/%s" % (repo, ref), body, {"Content-Type": mediatype})
        return sha(body)

    def blob_path(self, digest):
        """Where the registry keeps a blob on disk (tests corrupt it on purpose)."""
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker", "registry", "v2", "blobs", "sha256",
                            hexd[:2], hexd, "data")

    def ref(self, name):
        return "%s/%s" % (self.host, name)

    # -- images
    def push(self, repo, tags, layers, config=None, docker=False, platforms=None, arch="amd64",
             user=None):
        """layers: [(raw, blob, compression)]. platforms: None for a plain
        manifest, or a list like [("amd64", ""), ("arm64", "v8")] for an index
        whose entries share the layers (configs differ). Returns Pushed."""
        cfg = {"Env": ENV, "Cmd": ["sh"]}
        if config:
            cfg.update(config)
        if user is not None:
            cfg["User"] = user
        mtype = D2_MANIFEST if docker else OCI_MANIFEST

        def one(arch_, variant):
            conf = {"architecture": arch_, "os": "linux", "created": "2020-01-01T00:00:00Z",
                    "config": cfg,
                    "rootfs": {"type": "layers", "diff_ids": [sha(raw) for raw, _, _ in layers]},
                    "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "cric-test"}
                                for _ in layers]}
            if variant:
                conf["variant"] = variant
            cbody = json.dumps(conf, sort_keys=True).encode()
            cdig = self.blob(repo, cbody)
            ldesc = []
            for raw, blob, comp in layers:
                ldesc.append({"mediaType": layer_media_type(comp, docker), "size": len(blob),
                              "digest": self.blob(repo, blob)})
            man = {"schemaVersion": 2, "mediaType": mtype,
                   "config": {"mediaType": D2_CONFIG if docker else OCI_CONFIG,
                              "size": len(cbody), "digest": cdig},
                   "layers": ldesc}
            return json.dumps(man, indent=2).encode(), cdig, conf

        if not platforms:
            mbody, cdig, conf = one(arch, "")
            for t in tags:
                mdig = self.manifest(repo, t, mbody, mtype)
            p = Pushed(repo, sha(mbody), cdig, sha(mbody), layers, conf)
        else:
            entries = []
            host_cdig = host_mdig = host_conf = None
            for a, v in platforms:
                mbody, cdig, conf = one(a, v)
                mdig = self.manifest(repo, sha(mbody), mbody, mtype)
                plat = {"architecture": a, "os": "linux"}
                if v:
                    plat["variant"] = v
                entries.append({"mediaType": mtype, "size": len(mbody), "digest": mdig,
                                "platform": plat})
                if a == arch and host_cdig is None:
                    host_cdig, host_mdig, host_conf = cdig, mdig, conf
            itype = D2_LIST if docker else OCI_INDEX
            ibody = json.dumps({"schemaVersion": 2, "mediaType": itype, "manifests": entries},
                               indent=2).encode()
            for t in tags:
                self.manifest(repo, t, ibody, itype)
            p = Pushed(repo, sha(ibody), host_cdig, host_mdig, layers, host_conf)
        self.images[repo] = p
        return p

    def push_standard_images(self):
        """The images most tests need."""
        bb = busybox_layer_cached()
        self.push("busybox", ["latest", "1"], [bb])
        self.push("busybox-docker", ["latest"], [bb], docker=True)
        multi = [bb,
                 Layer().dir("etc").file("etc/motd", b"hello\n").dir("data")
                 .file("data/a", b"a").file("data/b", b"b").finish("zstd"),
                 Layer().dir("etc").whiteout("etc/motd").dir("data").opaque("data")
                 .file("data/c", b"c", 0o4755, 1000, 1000).finish("none")]
        self.push("multi", ["latest"], multi)
        self.push("multiarch", ["latest"], [bb], platforms=[("arm64", "v8"), ("amd64", "")])
        self.push("multiarch-docker", ["latest"], [bb], docker=True,
                  platforms=[("arm", "v7"), ("amd64", "")])
        return self


class TokenServer:
    """A Bearer token server for docker-registry's token auth: RS256 JWTs
    signed with the openssl CLI (x5c header, self-signed cert as the root).
    users: {name: password}; anonymous callers get pull access to repos
    starting with "public/" only. requests records (user, scope) per call.
    refresh_tokens: {token: name}, the OAuth2 form POST (grant_type=
    refresh_token) that identity tokens use; recorded as ("refresh:" + name,
    scope), or ("bad-refresh", scope) for an unknown token."""

    def __init__(self, users, refresh_tokens=None):
        import http.server
        import threading
        self.users = users
        self.refresh_tokens = refresh_tokens or {}
        self.requests = []
        self.dir = tempfile.mkdtemp(prefix="cric-token-", dir="/tmp")
        self.key = os.path.join(self.dir, "key.pem")
        self.cert = os.path.join(self.dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=cric token"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.service, self.issuer = "cric-test-registry", "cric-test-issuer"
        ts = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                import urllib.parse
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                scope = q.get("scope", [""])[0]
                user = None
                h = self.headers.get("Authorization", "")
                if h.startswith("Basic "):
                    u, _, p = base64.b64decode(h[6:]).decode().partition(":")
                    if ts.users.get(u) != p:
                        ts.requests.append(("bad:" + u, scope))
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = u
                ts.requests.append((user, scope))
                parts = scope.split(":")
                access = []
                if len(parts) == 3 and parts[0] == "repository" and (
                        user or parts[1].startswith("public/")):
                    access = [{"type": "repository", "name": parts[1], "actions": ["pull"]}]
                body = json.dumps({"token": ts.sign(user or "", access)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                import urllib.parse
                n = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                scope = form.get("scope", [""])[0]
                user = ts.refresh_tokens.get(form.get("refresh_token", [""])[0])
                if form.get("grant_type") != ["refresh_token"] or user is None:
                    ts.requests.append(("bad-refresh", scope))
                    self.send_response(401)
                    self.end_headers()
                    return
                ts.requests.append(("refresh:" + user, scope))
                parts = scope.split(":")
                access = []
                if len(parts) == 3 and parts[0] == "repository":
                    access = [{"type": "repository", "name": parts[1], "actions": ["pull"]}]
                body = json.dumps({"access_token": ts.sign(user, access)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = "http://127.0.0.1:%d/token" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, sub, access):
        b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": sub, "aud": self.service, "exp": now + 600,
                  "nbf": now - 60, "iat": now - 60, "jti": os.urandom(8).hex(), "access": access}
        signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=signing.encode(), check=True, capture_output=True).stdout
        return signing + "." + b64(sig)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_standard_registry():
    return Registry().start().push_standard_images()
