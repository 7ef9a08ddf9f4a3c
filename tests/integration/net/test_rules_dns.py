"""src/net's packet rules, port reservation and embedded DNS server end to end, without the
daemon: a busybox httpd in a pinned namespace behind a library-made bridge, published by the
`ip berth` table that tests/helpers/net-rules-tool applies, reached from the host namespace
(127.0.0.1 and a non-loopback address) and from a namespace outside; the DNS server answering
busybox nslookup and relaying a fake upstream's answers byte for byte. Everything runs inside the
throwaway host namespace of the netenv fixture (conftest.py)."""
import os
import subprocess
import sys

import pytest

from berthtest import BUILD, poll

RULES = os.path.join(BUILD, "tests", "helpers", "net-rules-tool")

# a tiny DNS upstream: answers every UDP and TCP query with one A record 203.0.113.7 and logs the
# query and the reply it sent, in hex, one "udp|tcp QUERY REPLY" line each
UPSTREAM = r'''
import socket, struct, sys, threading
addr, log = sys.argv[1], sys.argv[2]
def reply(q):
    qend = 12
    while q[qend]:
        qend += q[qend] + 1
    qend += 5
    hdr = q[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0)
    rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x2a\x00\x04" + bytes([203, 0, 113, 7])
    return hdr + q[12:qend] + rr
def note(kind, q, r):
    with open(log, "a") as f:
        f.write(f"{kind} {q.hex()} {r.hex()}\n")
def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 53)); s.listen(8)
    while True:
        c, _ = s.accept()
        n = struct.unpack(">H", c.recv(2, socket.MSG_WAITALL))[0]
        q = c.recv(n, socket.MSG_WAITALL)
        r = reply(q)
        c.sendall(struct.pack(">H", len(r)) + r)
        note("tcp", q, r)
        c.close()
threading.Thread(target=tcp, daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((addr, 53))
print("ready", flush=True)
while True:
    q, peer = u.recvfrom(4096)
    r = reply(q)
    u.sendto(r, peer)
    note("udp", q, r)
'''

# a client sending one query (hex) over udp or tcp and printing the reply in hex
CLIENT = r'''
import socket, struct, sys
server, kind, q = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(8)
    s.sendto(q, (server, 53))
    print(s.recvfrom(65535)[0].hex())
else:
    s = socket.create_connection((server, 53), timeout=8)
    s.sendall(struct.pack(">H", len(q)) + q)
    n = struct.unpack(">H", s.recv(2, socket.MSG_WAITALL))[0]
    print(s.recv(n, socket.MSG_WAITALL).hex())
'''


def query(name, qtype=1, qid=0x4242):
    wire = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"
    return (qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + wire
            + qtype.to_bytes(2, "big") + b"\x00\x01")


class Bg:
    """A background process inside a namespace, stopped by closing its stdin (or killed)."""

    def __init__(self, netenv, *argv, netns=None, wait_line=None):
        self.p = subprocess.Popen(["nsenter", f"--net={netns or netenv.host}", *argv],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.first = None
        if wait_line is not None:
            self.first = self.p.stdout.readline().strip()
            if wait_line and self.first != wait_line:
                self.stop()
                raise AssertionError(f"{argv}: {self.first!r} {self.p.stderr.read()}")

    def stop(self):
        if self.p.poll() is None:
            self.p.stdin.close()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


@pytest.fixture
def web(netenv, tmp_path):
    """Host namespace with lo up and an "uplink" veth 198.51.100.1/24 to a namespace `outside`
    (198.51.100.2, where the fake DNS upstream runs), a bridge br-web 10.124.0.1/24 with
    container `c` (10.124.0.2) running busybox httpd on :80, and br-other with container `d`
    (10.125.0.2)."""
    assert os.access(RULES, os.X_OK), f"{RULES} not built"
    r = netenv.run
    r("ip", "link", "set", "lo", "up")
    outside = netenv.path("outside")
    netenv.tool("netns", outside)
    r("ip", "link", "add", "vout0", "type", "veth", "peer", "name", "vout1")
    r("ip", "link", "set", "vout1", "netns", outside)
    r("ip", "addr", "add", "198.51.100.1/24", "dev", "vout0")
    r("ip", "link", "set", "vout0", "up")
    r("ip", "addr", "add", "198.51.100.2/24", "dev", "vout1", netns=outside)
    r("ip", "link", "set", "vout1", "up", netns=outside)
    r("ip", "route", "add", "default", "via", "198.51.100.1", netns=outside)
    ends = []
    for bridge, net, name in (("br-web", "10.124.0", "c"), ("br-other", "10.125.0", "d")):
        netenv.tool("bridge", bridge, f"{net}.1/24")
        netenv.tool("netns", netenv.path(name))
        ends.append(netenv.tool("endpoint", netenv.path(name), bridge, f"{net}.2/24",
                                f"{net}.1").stdout.strip())
    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text("hello from the container\n")
    httpd = Bg(netenv, "busybox", "httpd", "-f", "-p", "80", "-h", str(docroot),
               netns=netenv.path("c"))

    def listening():
        # nsenter execs busybox: its /proc/PID/net/tcp* are the namespace's (0050: port 80,
        # 0A: LISTEN; busybox listens on :: when it can)
        assert httpd.p.poll() is None, httpd.p.stderr.read()
        for table in ("tcp", "tcp6"):
            with open(f"/proc/{httpd.p.pid}/net/{table}") as f:
                if any(line.split()[1].endswith(":0050") and line.split()[3] == "0A"
                       for line in f.readlines()[1:]):
                    return True
        return False
    poll(listening, "httpd listening on port 80", timeout=10)
    netenv.ends = ends
    try:
        yield netenv
    finally:
        httpd.p.kill()
        httpd.p.wait()
        netenv.run(RULES, "rules", check=False)
        for e in ends:
            netenv.tool("endpoint-rm", e, check=False)
        for name in ("c", "d", "outside"):
            netenv.tool("netns-rm", netenv.path(name), check=False)
        for bridge in ("br-web", "br-other"):
            netenv.tool("bridge-rm", bridge, check=False)


def wget(netenv, url, netns=None):
    # busybox 1.35's own -T crashes when the connect fails: time out from outside
    return netenv.run("timeout", "4", "busybox", "wget", "-q", "-O", "-", url, netns=netns,
                      check=False)


NETS = ["net=br-web,10.124.0.0/24", "net=br-other,10.125.0.0/24"]
PUBLISH = "port=tcp,*,8080,10.124.0.2,80,br-web"


def test_published_port_reaches_the_container(web):
    # before the rules nothing listens on 8080 in the host namespace
    assert wget(web, "http://127.0.0.1:8080/").returncode != 0
    web.run(RULES, "rules", *NETS, PUBLISH)
    # the port is held like docker holds it, and still DNAT'd to the container
    hold = Bg(web, RULES, "reserve", "tcp", "*", "8080", wait_line="8080")
    try:
        p = web.run(RULES, "reserve", "tcp", "*", "8080", check=False)
        assert p.returncode == 1
        assert "Bind for 0.0.0.0:8080 failed: port is already allocated" in p.stderr, p.stderr
        for url in ("http://127.0.0.1:8080/", "http://198.51.100.1:8080/",
                    "http://10.124.0.1:8080/"):
            p = wget(web, url)
            assert p.returncode == 0 and p.stdout == "hello from the container\n", \
                url + p.stdout + p.stderr
        # from another machine, through prerouting and forward
        p = wget(web, "http://198.51.100.1:8080/", netns=web.path("outside"))
        assert p.returncode == 0 and "hello from the container" in p.stdout, p.stderr
        # the container reaches its own published port through the host (hairpin); with
        # br_netfilter loaded (docker's hosts) the DNAT'd frame goes back out the port it came
        # in on, which the bridge only does in hairpin mode: berth_endpoint_add turns it on
        detail = web.run("ip", "-d", "link", "show", "dev", web.ends[0]).stdout
        assert "hairpin on" in detail, detail
        p = wget(web, "http://198.51.100.1:8080/", netns=web.path("c"))
        assert p.returncode == 0 and "hello from the container" in p.stdout, p.stderr
    finally:
        assert hold.stop() == 0
    # released: a new reservation succeeds; port 0 picks one
    p = web.run(RULES, "reserve", "tcp", "127.0.0.1", "8080", check=False)
    assert p.returncode == 0 and p.stdout.strip() == "8080", p.stderr
    p = web.run(RULES, "reserve", "udp", "*", "0")
    assert int(p.stdout) > 0

    # a port bound to one host address is published on that address only
    web.run(RULES, "rules", *NETS, "port=tcp,198.51.100.1,8081,10.124.0.2,80,br-web")
    assert wget(web, "http://198.51.100.1:8081/").returncode == 0
    assert wget(web, "http://127.0.0.1:8081/").returncode != 0
    # the table deleted: nothing published any more, no table left
    web.run(RULES, "rules")
    assert wget(web, "http://198.51.100.1:8081/").returncode != 0
    p = web.run("nft", "list", "tables")
    assert "berth" not in p.stdout


SEEN = r'''
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.2", 9999))
s.settimeout(5)
print("ready", flush=True)
print(s.recvfrom(100)[1][0], flush=True)
'''
SEND = ("import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
        ".sendto(b'x', ('198.51.100.2', 9999))")


def _source_seen_outside(web):
    """The source address of a datagram container `c` sends to `outside`."""
    seen = Bg(web, sys.executable, "-c", SEEN, netns=web.path("outside"), wait_line="ready")
    web.run(sys.executable, "-c", SEND, netns=web.path("c"))
    addr = seen.p.stdout.readline().strip()
    seen.stop()
    return addr


def test_isolation_internal_and_masquerade(web):
    d, c, out = web.path("d"), web.path("c"), web.path("outside")
    # without berth's table the two bridges route to each other (plain forwarding)
    assert wget(web, "http://10.124.0.2/", netns=d).returncode == 0
    assert wget(web, "http://10.124.0.2/", netns=out).returncode == 0
    assert _source_seen_outside(web) == "10.124.0.2"
    web.run(RULES, "rules", *NETS)
    assert wget(web, "http://10.124.0.2/", netns=d).returncode != 0
    # nor from outside straight to a container's address: only published ports get in
    assert wget(web, "http://10.124.0.2/", netns=out).returncode != 0
    # the way out is masqueraded: `outside` sees the host's address, not the container's
    assert _source_seen_outside(web) == "198.51.100.1"
    # an internal network has no way out
    web.run(RULES, "rules", "net=br-web,10.124.0.0/24,internal", NETS[1])
    p = web.run("busybox", "ping", "-c1", "-W2", "198.51.100.2", netns=c, check=False)
    assert p.returncode != 0
    # a bad bridge name is refused and the previous table stays
    before = web.run("nft", "list", "table", "ip", "berth").stdout
    p = web.run(RULES, "rules", 'net=br";drop,10.9.0.0/24', check=False)
    assert p.returncode == 1 and "invalid bridge name" in p.stderr, p.stderr
    assert web.run("nft", "list", "table", "ip", "berth").stdout == before
    # other tables are not berth's to touch
    web.run("nft", "add", "table", "inet", "admin")
    web.run(RULES, "rules")
    assert "admin" in web.run("nft", "list", "tables").stdout
    # and with berth's table gone, plain forwarding is back
    assert wget(web, "http://10.124.0.2/", netns=d).returncode == 0


def test_dns_answers_and_forwards(web, tmp_path):
    log = tmp_path / "upstream.log"
    up = Bg(web, sys.executable, "-c", UPSTREAM, "198.51.100.2", str(log), wait_line="ready",
            netns=web.path("outside"))
    dns = Bg(web, RULES, "dns", "10.124.0.1", "198.51.100.2", "web=10.124.0.2", "Alias.=10.124.0.2",
             "web=fd00::2", wait_line="ready")
    c = web.path("c")
    try:
        # a record: any case, with or without a trailing dot, from inside the container
        for name in ("web", "WEB", "alias.", "Alias"):
            p = web.run("busybox", "nslookup", name, "10.124.0.1", netns=c, check=False)
            assert p.returncode == 0 and "10.124.0.2" in p.stdout, name + p.stdout + p.stderr
        p = web.run("busybox", "nslookup", "-type=aaaa", "web", "10.124.0.1", netns=c,
                    check=False)
        assert "fd00::2" in p.stdout, p.stdout + p.stderr
        p = web.run("busybox", "nslookup", "10.124.0.2", "10.124.0.1", netns=c, check=False)
        assert "name = web" in p.stdout, p.stdout + p.stderr

        # everything else goes to the upstream and comes back byte for byte, id kept
        for kind, qid in (("udp", 0x1111), ("tcp", 0x2222)):
            q = query("Example.COM", 1, qid)
            got = web.run(sys.executable, "-c", CLIENT, "10.124.0.1", kind, q.hex(),
                          netns=c).stdout.strip()
            lines = [ln.split() for ln in log.read_text().splitlines() if ln.startswith(kind)]
            assert lines, log.read_text()
            assert lines[-1][1] == q.hex()
            assert got == lines[-1][2]
            assert got.startswith(f"{qid:04x}8180") and got.endswith("cb007107")
        p = web.run("busybox", "nslookup", "forwarded.test", "10.124.0.1", netns=c,
                    check=False)
        assert "203.0.113.7" in p.stdout, p.stdout + p.stderr

        # upstream gone: SERVFAIL (rcode 2), never an invented NXDOMAIN
        up.p.kill()
        up.p.wait()
        q = query("gone.test", 1, 0x3333)
        got = bytes.fromhex(web.run(sys.executable, "-c", CLIENT, "10.124.0.1", "udp", q.hex(),
                                    netns=c).stdout.strip())
        assert got[:2] == b"\x33\x33" and got[3] & 0x0f == 2, got.hex()
        # a local name still answers meanwhile
        p = web.run("busybox", "nslookup", "web", "10.124.0.1", netns=c, check=False)
        assert "10.124.0.2" in p.stdout
        # garbage gets FORMERR, a second server on the same address is refused
        bad = b"\x44\x44\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\xc0\x0c\x00\x01\x00\x01"
        got = bytes.fromhex(web.run(sys.executable, "-c", CLIENT, "10.124.0.1", "udp",
                                    bad.hex(), netns=c).stdout.strip())
        assert got[:2] == b"\x44\x44" and got[3] & 0x0f == 1, got.hex()
        p = web.run(RULES, "dns", "10.124.0.1", "-", check=False)
        assert p.returncode == 1 and "bind dns" in p.stderr, p.stderr
    finally:
        assert dns.stop() == 0
        if up.p.poll() is None:
            up.p.kill()
            up.p.wait()
