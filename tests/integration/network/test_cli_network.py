"""The berth CLI's networking verbs and flags (`network …`, `port`, the PORTS column of `ps`,
run/create's -p/-P/--expose/--network/--network-alias/--ip/--dns…/--add-host/--hostname) against
dockerd in its own network namespace, side by side with the docker CLI on the same daemon: the same
tables, the same JSON, the same exit codes and messages. The berth CLI is only an API client, so
dockerd is the oracle for what it must print and send."""
import json
import re

import pytest

from berthtest import TAG


def first_err(p):
    """The first stderr line without the program's own prefix."""
    line = (p.stderr.strip().splitlines() or [""])[0]
    return re.sub(r"^(docker|berth): ", "", line)


def same(d, b, stdout=True):
    assert d.returncode == b.returncode, f"docker {d.returncode} {d.stderr!r}, berth {b.returncode} {b.stderr!r}"
    assert first_err(d) == first_err(b)
    if stdout:
        assert d.stdout == b.stdout


def both(e, *args):
    d, b = e.docker(*args), e.berth(*args)
    return d, b


def test_network_create_ls_inspect_rm(dockerd_netns):
    e = dockerd_netns
    n1, n2 = e.name("na"), e.name("nb")
    flags = ["--subnet", "10.91.0.0/24", "--gateway", "10.91.0.254", "--ip-range",
             "10.91.0.128/25", "--label", "k=v", "--internal", "--aux-address", "r=10.91.0.9"]
    d = e.docker("network", "create", *flags, n1)
    assert d.returncode == 0, d.stderr
    flags[1], flags[3], flags[5], flags[-1] = ("10.92.0.0/24", "10.92.0.254", "10.92.0.128/25",
                                               "r=10.92.0.9")
    b = e.berth("network", "create", *flags, n2)
    assert b.returncode == 0, b.stderr
    assert re.fullmatch(r"[0-9a-f]{64}\n", d.stdout) and re.fullmatch(r"[0-9a-f]{64}\n", b.stdout)

    # the daemon holds the same network for both CLIs' requests
    (i1,), (i2,) = (json.loads(e.docker("network", "inspect", n).stdout) for n in (n1, n2))
    for i in (i1, i2):
        for k in ("Name", "Id", "Created"):
            del i[k]
    assert json.dumps(i1).replace("10.91", "10.92") == json.dumps(i2)
    assert i2["Internal"] is True and i2["Labels"] == {"k": "v"}
    assert i2["IPAM"]["Config"] == [{"Subnet": "10.92.0.0/24", "IPRange": "10.92.0.128/25",
                                     "Gateway": "10.92.0.254",
                                     "AuxiliaryAddresses": {"r": "10.92.0.9"}}]

    for args in (["ls"], ["ls", "-q"], ["ls", "--no-trunc"], ["ls", "-q", "--no-trunc"],
                 ["list"], ["ls", "--filter", f"name={n1}"], ["ls", "-f", "label=k=v"],
                 ["ls", "--filter", "driver=bridge", "--filter", "type=custom"],
                 ["ls", "--format", "{{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.Internal}}\t{{.IPv6}}"],
                 ["ls", "--format", "table {{.Name}}\t{{.Internal}}\t{{.Labels}}"],
                 ["ls", "--format", "{{.ID}} {{.CreatedAt}} {{.Label \"k\"}}"],
                 ["ls", "--format", "raw"], ["ls", "--format", "raw", "-q"],
                 ["ls", "--format", "table", "-q"],
                 ["inspect", n1, n2], ["inspect", "-f", "{{.Name}} {{.Driver}} {{.Internal}}", n1],
                 ["inspect", "--format", "{{json .IPAM}}", n2],
                 ["inspect", "-f", "{{range $k, $v := .Labels}}{{$k}}={{$v}}{{end}}", n2]):
        same(*both(e, "network", *args))
    d, b = both(e, "network", "ls", "--format", "json")
    assert [json.loads(x) for x in d.stdout.splitlines()] == \
        [json.loads(x) for x in b.stdout.splitlines()]
    same(*both(e, "inspect", "--type", "network", n1))
    same(*both(e, "inspect", "-f", "{{.Name}}", n1))

    # unknown networks: the daemon's message, "[]" from inspect, exit status 1
    for args in (["network", "inspect", "nonexist"], ["network", "inspect", n1, "nonexist"],
                 ["inspect", "--type", "network", "nonexist"], ["network", "rm", "nonexist"],
                 ["network", "rm", "-f", "nonexist"], ["network", "connect", "nonexist", "x"],
                 ["network", "disconnect", "nonexist", "x"]):
        same(*both(e, *args))

    d = e.docker("network", "rm", n1)
    b = e.berth("network", "rm", n2)
    assert (d.returncode, d.stdout, b.returncode, b.stdout) == (0, f"{n1}\n", 0, f"{n2}\n")
    same(*both(e, "network", "ls"))


@pytest.mark.parametrize("args", [
    ["--gateway", "10.0.0.1"],
    ["--ip-range", "10.0.0.0/24"],
    ["--subnet", "10.0.0.0/8", "--subnet", "10.1.0.0/16"],
    ["--subnet", "10.1.0.0/16", "--ip-range", "10.0.0.0/24"],
    ["--subnet", "10.1.0.0/16", "--gateway", "10.2.0.1"],
    ["--subnet", "10.1.0.0/16", "--gateway", "10.1.0.1", "--gateway", "10.1.0.2"],
    ["--subnet", "10.1.0.0/16", "--aux-address", "a=10.2.0.1"],
    ["--subnet", "10.1.0.0/16", "--subnet", "abc"],
    ["--subnet", "10.93.0.0/16", "--subnet", "10.94.0.0/16", "--ip-range", "10.94.1.0/24",
     "--gateway", "10.93.0.9"],
    ["-d", "nosuchdriver"],
])
def test_network_create_errors(dockerd_netns, args):
    e = dockerd_netns
    name = e.name("ne")
    d, b = both(e, "network", "create", *args, name)
    same(d, b, stdout=False)
    if d.returncode == 0:
        (i1,) = json.loads(e.docker("network", "inspect", name).stdout)
        assert i1["IPAM"]["Config"]


def test_network_create_duplicate_and_missing_name(dockerd_netns):
    e = dockerd_netns
    name = e.name("nd")
    assert e.docker("network", "create", name).returncode == 0
    d, b = both(e, "network", "create", name)
    same(d, b)
    d, b = both(e, "network", "create")
    assert d.returncode == b.returncode == 1
    d, b = both(e, "network", "connect", name)
    assert d.returncode == b.returncode == 1


def test_connect_disconnect(dockerd_netns):
    e = dockerd_netns
    net, c = e.name("nc"), e.name("c")
    assert e.berth("network", "create", "--subnet", "10.95.0.0/24", net).returncode == 0
    r = e.docker("run", "-d", "--name", c, TAG, "sleep", "300")
    assert r.returncode == 0, r.stderr
    r = e.berth("network", "connect", "--alias", "a1", "--alias", "a2", "--ip", "10.95.0.50", net, c)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    ins = json.loads(e.docker("inspect", c).stdout)[0]
    ep = ins["NetworkSettings"]["Networks"][net]
    assert {"a1", "a2"} <= set(ep["Aliases"])
    assert ep["IPAddress"] == "10.95.0.50"
    assert ep["IPAMConfig"]["IPv4Address"] == "10.95.0.50"
    # connected again: both CLIs get the daemon's refusal
    same(*both(e, "network", "connect", net, c))
    r = e.berth("network", "disconnect", net, c)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    ins = json.loads(e.docker("inspect", c).stdout)[0]
    assert net not in ins["NetworkSettings"]["Networks"]
    same(*both(e, "network", "disconnect", net, c))
    same(*both(e, "network", "connect", net, "nosuchcontainer"))
    same(*both(e, "network", "connect", "--driver-opt", "novalue", net, c))
    # a container on a user network reaches another by its connect alias
    r = e.berth("network", "connect", "--alias", "srv", net, c)
    assert r.returncode == 0, r.stderr
    r = e.docker("run", "--rm", "--network", net, TAG, "ping", "-c1", "-W3", "srv")
    assert r.returncode == 0, r.stdout + r.stderr


def test_prune(dockerd_netns):
    e = dockerd_netns
    used, unused = e.name("nu"), e.name("nx")
    for n in (used, unused):
        assert e.docker("network", "create", n).returncode == 0
    r = e.docker("run", "-d", "--network", used, TAG, "sleep", "300")
    assert r.returncode == 0, r.stderr
    # answered "no": nothing removed, docker's prompt
    d = e.docker("network", "prune", input="n\n")
    b = e.berth("network", "prune", input="n\n")
    assert b.returncode == 0
    assert b.stdout == ("WARNING! This will remove all custom networks not used by at least one "
                        "container.\nAre you sure you want to continue? [y/N] ")
    assert d.stdout.startswith(b.stdout)
    b = e.berth("network", "prune", "-f")
    assert (b.returncode, b.stdout) == (0, f"Deleted Networks:\n{unused}\n\n")
    assert e.docker("network", "create", unused).returncode == 0
    d = e.docker("network", "prune", "-f")
    assert (d.returncode, d.stdout) == (0, f"Deleted Networks:\n{unused}\n\n")
    same(*both(e, "network", "prune", "-f"))
    same(*both(e, "network", "prune", "-f", "--filter", "label=nosuch"))
    names = e.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert used in names and unused not in names


RUN_FLAGS = [
    ["-p", "8080:80", "-p", "127.0.0.1:9000-9001:90-91/udp", "-p", "7000-7005:70", "-p", "82",
     "-p", "84-85", "--expose", "100-101", "--expose", "53/udp", "-P"],
    ["-p", "published=8081,target=81,protocol=udp", "--hostname", "hh", "--dns", "10.0.0.53",
     "--dns-search", "example.org", "--dns-option", "ndots:2", "--add-host", "h1:10.1.2.3",
     "--add-host", "h2=10.1.2.4", "--add-host", "h3:[::1]", "--add-host", "gw:host-gateway"],
    ["--network", "NET", "--network-alias", "web", "--network-alias", "www", "--ip", "10.96.0.40"],
    ["--net", "NET", "--net-alias", "api", "--link", "LINKED:db"],
    ["--network", "none"],
    ["--network", "host"],
    ["--network", "container:LINKED"],
]


@pytest.mark.parametrize("flags", RUN_FLAGS, ids=[" ".join(f)[:40] for f in RUN_FLAGS])
def test_create_body_like_docker(dockerd_netns, flags):
    """Containers created with the same networking flags by both CLIs are configured alike."""
    e = dockerd_netns
    net, linked = e.name("nr"), e.name("l")
    assert e.docker("network", "create", "--subnet", "10.96.0.0/24", net).returncode == 0
    assert e.docker("run", "-d", "--name", linked, "--network", net, TAG, "sleep", "300").returncode == 0
    flags = [f.replace("NET", net).replace("LINKED", linked) for f in flags]
    seen = []
    for i, cli in enumerate((e.docker, e.berth)):
        name = e.name(f"cb{i}")
        ip = [f.replace(".40", f".4{i}") for f in flags]  # two containers, two addresses
        r = cli("create", "--name", name, *ip, TAG, "sleep", "300")
        assert r.returncode == 0, r.stderr
        ins = json.loads(e.docker("inspect", name).stdout)[0]
        hc, cfg = ins["HostConfig"], ins["Config"]
        nets = {}
        for k, v in (ins["NetworkSettings"]["Networks"] or {}).items():
            nets[k] = {"Aliases": sorted(a for a in (v.get("Aliases") or []) if not name.startswith(a)
                                         and a != ins["Id"][:12]),
                       "IPAMConfig": v.get("IPAMConfig"), "Links": v.get("Links")}
        seen.append(json.loads(json.dumps({
            "NetworkMode": hc["NetworkMode"], "PortBindings": hc["PortBindings"],
            "PublishAllPorts": hc["PublishAllPorts"], "Dns": hc["Dns"] or [],
            "DnsSearch": hc["DnsSearch"] or [], "DnsOptions": hc["DnsOptions"] or [],
            "ExtraHosts": hc["ExtraHosts"] or [], "Links": hc["Links"],
            "ExposedPorts": cfg.get("ExposedPorts"), "Hostname": cfg["Hostname"] if "--hostname" in flags else "",
            "MacAddress": cfg.get("MacAddress"), "Networks": nets}).replace(".41", ".40")))
    assert seen[0] == seen[1]


@pytest.mark.parametrize("flags", [
    ["-p", "abc"], ["-p", "80:abc"], ["-p", "abc:80"], ["-p", "1.2.3:80:80"], ["-p", "80/xyz"],
    ["-p", "80-82:90-91"], ["-p", "70000"], ["-p", "81-80"], ["-p", "8080:"],
    ["-p", "published=8080,target"], ["-p", "[::1:80:80"], ["--expose", "80:90"],
    ["--expose", "abc"], ["--network-alias", "a"], ["--network", "bridge", "--network-alias", "a"],
    ["--network", "container:x", "--network-alias", "a"], ["--mac-address", "zz"],
    ["--network", "bridge", "--ip", "10.96.0.9"], ["--network", "nosuchnet"], ["--dns", "abc"],
    ["--add-host", "bad"], ["--add-host", "h:abc"], ["--add-host", ":10.0.0.1"],
    ["--add-host", "a:b:10.0.0.1"],
])
def test_run_flag_errors_like_docker(dockerd_netns, flags):
    e = dockerd_netns
    d = e.docker("run", "--rm", *flags, TAG, "true")
    b = e.berth("run", "--rm", *flags, TAG, "true")
    assert d.returncode == b.returncode != 0
    assert first_err(d) == first_err(b)


def test_ps_ports_and_port(dockerd_netns):
    e = dockerd_netns
    c = e.name("pp")
    r = e.berth("run", "-d", "--name", c, "-p", "8080:80", "-p", "9000-9002:9000-9002/udp",
                "-p", "127.0.0.1::53/udp", "-p", "127.0.0.1:8443:443", "--expose", "7000-7001",
                "--expose", "7003", TAG, "sleep", "300")
    assert r.returncode == 0, r.stderr
    d, b = both(e, "ps", "--filter", f"name={c}", "--format", "{{.Ports}}")
    same(d, b)
    assert "0.0.0.0:8080->80/tcp" in b.stdout and "7000-7001/tcp" in b.stdout
    assert "0.0.0.0:9000-9002->9000-9002/udp" in b.stdout
    d, b = both(e, "ps", "--filter", f"name={c}", "--format", "table {{.Names}}\t{{.Ports}}")
    same(d, b)
    for args in ([c], [c, "80"], [c, "80/tcp"], [c, "9001/udp"], [c, "53/udp"], [c, "443"],
                 [c, "81"], [c, "9001"], [c, "abc"], [c, "99999"], ["nosuchcontainer"]):
        same(*both(e, "port", *args))
        same(*both(e, "container", "port", *args))
    # published for real: reached from the namespace's host side
    h = e.name("web")
    r = e.berth("run", "-d", "--name", h, "-p", "18080:80", TAG, "httpd", "-f", "-p", "80", "-h", "/etc")
    assert r.returncode == 0, r.stderr
    got = ""
    for _ in range(50):
        # (busybox 1.35's wget -T segfaults: the timeout comes from timeout(1))
        got = e.host("timeout", "5", "busybox", "wget", "-qO-", "http://127.0.0.1:18080/group").stdout
        if got:
            break
    assert got.startswith("root:x:0:")


def test_mac_address(dockerd_netns):
    """--mac-address goes where API 1.43 takes it (Config.MacAddress; docker's CLI 28 refuses the
    flag below API 1.44), and the container's interface has it."""
    e = dockerd_netns
    r = e.berth("run", "--rm", "--mac-address", "02:42:0a:00:00:99", TAG, "cat",
                "/sys/class/net/eth0/address")
    assert (r.returncode, r.stdout) == (0, "02:42:0a:00:00:99\n"), r.stderr
    c = e.name("mac")
    r = e.berth("create", "--name", c, "--mac-address", "02:42:0a:00:00:98", TAG, "true")
    assert r.returncode == 0, r.stderr
    assert json.loads(e.docker("inspect", c).stdout)[0]["Config"]["MacAddress"] == "02:42:0a:00:00:98"
