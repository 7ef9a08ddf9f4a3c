"""Fixtures for the registry client tests: real `docker-registry` instances on 127.0.0.1 (open,
token auth with our own JWT issuer, htpasswd basic auth), an error-injecting proxy, images
pushed with skopeo, and the image-tool helper that drives berth's image library."""
import base64
import hashlib
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(ROOT, "build"))

MAKE_ARCHIVE = "/work/shared/acceptance/lib/make-image-archive.py"
USER, PASSWORD = "berth", "s3cret-pw"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"registry exited: {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Registry:
    def __init__(self, tmp, name, auth_yaml=""):
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.storage = os.path.join(tmp, f"{name}-storage")
        os.makedirs(self.storage)
        self.config = os.path.join(tmp, f"{name}.yml")
        with open(self.config, "w") as f:
            f.write(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {self.storage}
  delete:
    enabled: true
http:
  addr: {self.host}
{auth_yaml}""")
        self.log = open(os.path.join(tmp, f"{name}.log"), "w")
        self.proc = subprocess.Popen(["docker-registry", "serve", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)

    def blob_path(self, digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(self.storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd,
                            "data")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    r = Registry(str(tmp_path_factory.mktemp("reg")), "open")
    yield r
    r.stop()


# ---------------------------------------------------------------- token auth


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class TokenServer:
    """Docker's token protocol: GET /token?service=&scope=… with basic credentials → a JWT
    (RS256, x5c header) granting the scopes asked for. No credentials → 401."""

    def __init__(self, tmp):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
        import datetime

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth-test-token")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .sign(self.key, hashes.SHA256()))
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert_pem = os.path.join(tmp, "token-cert.pem")
        with open(self.cert_pem, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                u = urllib.parse.urlparse(self.path)
                q = urllib.parse.parse_qs(u.query)
                auth = self.headers.get("Authorization", "")
                ok = auth == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                server.requests.append({"scope": q.get("scope", []), "auth": bool(auth)})
                if u.path != "/token" or not ok:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"token": server.issue(q.get("service", [""])[0],
                                                         q.get("scope", [])),
                                   "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def issue(self, service, scopes):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        access = []
        for s in scopes:
            for one in s.split(" "):
                typ, name, actions = one.split(":")[0], ":".join(one.split(":")[1:-1]), \
                    one.split(":")[-1]
                access.append({"type": typ, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256",
                  "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": "berth-test-issuer", "sub": USER, "aud": service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        sig = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing + "." + b64url(sig)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("tokreg"))
    ts = TokenServer(tmp)
    r = Registry(tmp, "token", f"""auth:
  token:
    realm: http://127.0.0.1:{ts.port}/token
    service: berth-test
    issuer: berth-test-issuer
    rootcertbundle: {ts.cert_pem}
""")
    r.tokens = ts
    yield r
    r.stop()
    ts.stop()


def bcrypt_hash(password):
    """the registry's htpasswd wants bcrypt: libxcrypt through python's crypt (3.11), else
    python3-bcrypt, else apache2-utils' htpasswd"""
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    except ImportError:
        pass
    try:
        import bcrypt
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
    except ImportError:
        out = subprocess.run(["htpasswd", "-nbB", "x", password], check=True,
                             stdout=subprocess.PIPE, text=True).stdout
        return out.strip().split(":", 1)[1]


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("basicreg"))
    htpasswd = os.path.join(tmp, "htpasswd")
    with open(htpasswd, "w") as f:
        f.write(f"{USER}:{bcrypt_hash(PASSWORD)}\n")
    r = Registry(tmp, "basic", f"""auth:
  htpasswd:
    realm: berth-test
    path: {htpasswd}
""")
    yield r
    r.stop()


def auth_header(user=USER, password=PASSWORD):
    """docker's X-Registry-Auth: base64url JSON"""
    return base64.urlsafe_b64encode(json.dumps(
        {"username": user, "password": password}).encode()).decode()


def docker_config(tmp, host, user=USER, password=PASSWORD):
    path = os.path.join(tmp, "config.json")
    with open(path, "w") as f:
        json.dump({"auths": {host: {"auth": base64.b64encode(
            f"{user}:{password}".encode()).decode()}}}, f)
    return path


# ---------------------------------------------------------------- error injection


class Proxy:
    """A forwarding proxy in front of a registry. mode (set per test):
    None: pass through; "500-once": the first GET of each blob answers 500;
    "500-always": blob GETs answer 500; "reset-once": the first GET of each blob sends its
    headers and half the body, then drops the connection; "bad-manifest": manifests come back
    as a schema2 document without config or layers; "redirect": blob GETs answer 307 to a
    "blob storage" server on another port, which records the Authorization headers it gets
    (storage_auth) and serves the blob; "slow": blobs trickle (64 KiB every 20 ms)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.mode = None
        self.seen = set()
        self.lock = threading.Lock()
        self.stash = {}
        self.storage_auth = []
        proxy = self

        class Storage(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                proxy.storage_auth.append(self.headers.get("Authorization"))
                path = urllib.parse.unquote(self.path[len("/storage"):])
                c = http.client.HTTPConnection(*proxy.upstream.split(":"))
                auth = proxy.stash.get(path)
                c.request("GET", path, headers={"Authorization": auth} if auth else {})
                resp = c.getresponse()
                body = resp.read()
                c.close()
                self.send_response(resp.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.storage = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Storage)
        threading.Thread(target=self.storage.serve_forever, daemon=True).start()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def forward(self, method):
                c = http.client.HTTPConnection(*proxy.upstream.split(":"))
                hdrs = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                c.request(method, self.path, headers=hdrs)
                resp = c.getresponse()
                body = resp.read() if method != "HEAD" else b""
                c.close()
                return resp, body

            def reply(self, status, headers, body, length=None):
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)

            def handle_one(self, method):
                blob = "/blobs/sha256:" in self.path and method == "GET"
                with proxy.lock:
                    first = blob and self.path not in proxy.seen
                    if blob:
                        proxy.seen.add(self.path)
                mode = proxy.mode
                if blob and (mode == "500-always" or (mode == "500-once" and first)):
                    self.reply(500, [("Content-Type", "application/json")], json.dumps(
                        {"errors": [{"code": "UNKNOWN", "message": "injected failure"}]})
                        .encode())
                    return
                if blob and mode == "redirect" and self.headers.get("Authorization"):
                    proxy.stash[self.path] = self.headers["Authorization"]
                    port = proxy.storage.server_address[1]
                    self.reply(307, [("Location", f"http://127.0.0.1:{port}/storage"
                                      + urllib.parse.quote(self.path))], b"")
                    return
                resp, body = self.forward(method)
                if blob and mode == "slow" and resp.status == 200:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    try:
                        for i in range(0, len(body), 1 << 16):
                            self.wfile.write(body[i:i + (1 << 16)])
                            time.sleep(0.02)  # pacing: a slow registry, not a wait
                    except OSError:
                        pass
                    return
                if blob and mode == "reset-once" and first and resp.status == 200:
                    self.reply(200, resp.getheaders(), body[:len(body) // 2], len(body))
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "bad-manifest" and "/manifests/" in self.path:
                    body = json.dumps({"schemaVersion": 2, "mediaType":
                                       "application/vnd.docker.distribution.manifest.v2+json"}
                                      ).encode()
                    hdrs = [(k, v) for k, v in resp.getheaders()
                            if k.lower() != "docker-content-digest"]
                    self.reply(200, hdrs, body)
                    return
                self.reply(resp.status, resp.getheaders(), body,
                           resp.getheader("Content-Length") if method == "HEAD" else None)

            def do_GET(self):
                self.handle_one("GET")

            def do_HEAD(self):
                self.handle_one("HEAD")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.storage.shutdown()
        self.storage.server_close()


@pytest.fixture
def make_proxy():
    made = []

    def make(upstream):
        made.append(Proxy(upstream.host))
        return made[-1]
    yield make
    for p in made:
        p.stop()


@pytest.fixture
def proxy(registry, make_proxy):
    return make_proxy(registry)


# ---------------------------------------------------------------- images and the tool


@pytest.fixture(scope="session")
def busybox_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("bbroot")
    os.makedirs(d / "bin")
    shutil.copy("/usr/bin/busybox", d / "bin" / "busybox")
    os.symlink("busybox", d / "bin" / "sh")
    return str(d)


class Image:
    """A docker-archive with random data layers, pushed to a registry with skopeo."""

    def __init__(self, path, layers):
        self.path = path
        with tarfile.open(path) as t:
            self.manifest = json.load(t.extractfile("manifest.json"))[0]
            self.config_bytes = t.extractfile(self.manifest["Config"]).read()
            self.config_digest = "sha256:" + hashlib.sha256(self.config_bytes).hexdigest()
            self.layer_blobs = [t.extractfile(n).read() for n in self.manifest["Layers"]]
        self.layer_digests = ["sha256:" + hashlib.sha256(b).hexdigest()
                              for b in self.layer_blobs]

    def data_files(self):
        """{name: sha256} of the random data files in the layers"""
        import gzip
        import io

        out = {}
        for b in self.layer_blobs:
            with tarfile.open(fileobj=io.BytesIO(gzip.decompress(b))) as t:
                for m in t.getmembers():
                    if m.isfile() and m.name.startswith("data/"):
                        out[m.name] = hashlib.sha256(t.extractfile(m).read()).hexdigest()
        return out


@pytest.fixture
def make_image(tmp_path, busybox_dir):
    def make(n_layers=2, mb=1, tag="test/img:1"):
        path = str(tmp_path / f"img-{uuid.uuid4().hex[:8]}.tar")
        subprocess.run([sys.executable, MAKE_ARCHIVE, path, busybox_dir, str(n_layers), str(mb),
                        tag], check=True)
        return Image(path, n_layers)
    return make


def skopeo_push(image, dest, creds=None):
    cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    if creds:
        cmd += ["--dest-creds", creds]
    subprocess.run(cmd + [f"docker-archive:{image.path}", f"docker://{dest}"], check=True)


def skopeo_raw(ref, creds=None):
    cmd = ["skopeo", "inspect", "--raw", "--tls-verify=false"]
    if creds:
        cmd += ["--creds", creds]
    return subprocess.run(cmd + [f"docker://{ref}"], check=True,
                          stdout=subprocess.PIPE).stdout


class Tool:
    def __init__(self, root):
        self.root = root
        self.bin = os.path.join(BUILD, "tests", "helpers", "image-tool")
        assert os.access(self.bin, os.X_OK), f"{self.bin} not built"

    def __call__(self, *args, check=True):
        p = subprocess.run([self.bin, "--root", self.root, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=300)
        if check and p.returncode != 0:
            raise AssertionError(f"image-tool {' '.join(args)} failed: {p.stderr[-3000:]}")
        return p

    def events(self, p):
        return [json.loads(line) for line in p.stderr.splitlines() if line.startswith("{")]

    def layer_dirs(self, name):
        return self("layers", name).stdout.split()

    def state(self):
        """what is stored: layer dirs, blobs, temporaries"""
        def ls(*p):
            d = os.path.join(self.root, *p)
            return sorted(os.listdir(d)) if os.path.isdir(d) else []
        return {"overlay": [x for x in ls("overlay") if x != "tmp"], "blobs": ls("blobs", "sha256"),
                "overlay_tmp": ls("overlay", "tmp"), "tmp": ls("tmp")}


@pytest.fixture
def tool(tmp_path):
    root = str(tmp_path / "store")
    t = Tool(root)
    yield t
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def reg():
    """the helpers above, for the test modules (conftest cannot be imported by name)"""
    import types
    return types.SimpleNamespace(skopeo_push=skopeo_push, skopeo_raw=skopeo_raw,
                                 auth_header=auth_header, docker_config=docker_config,
                                 USER=USER, PASSWORD=PASSWORD)
