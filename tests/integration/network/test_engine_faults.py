"""berthd on a host that cannot do bridge networking (here: berthd without CAP_NET_ADMIN, so
netlink refuses bridges and nf_tables refuses its table): it starts anyway, says why in its log
and in /info Warnings, runs host-network containers, and refuses bridge requests with that cause,
leaving nothing half-made. (Without CAP_NET_ADMIN no private namespace can bring loopback up, so
--network none fails here too, with the runtime's clear error; on a host that only lacks the
bridge module or nf_tables it works.)"""
import json

from berthtest import TAG
from netns_berthd import net_factory, netd, sanitized_clients_report_nothing  # noqa: F401 fixtures


def test_no_bridge_networking_daemon_serves_the_rest(net_factory):
    d = net_factory(wrap=["setpriv", "--bounding-set", "-net_admin", "--inh-caps",
                          "-net_admin", "--"])
    info = json.loads(d.docker("info", "--format", "{{json .}}").stdout)
    warn = [w for w in info["Warnings"] if "bridge networking is not available" in w]
    assert warn, info["Warnings"]
    assert "bridge networking is not available" in d.log()
    r = d.docker("run", "--rm", "--network", "none", TAG, "true")
    assert r.returncode == 0 or "bring `lo` up" in r.stderr, r.stderr
    r = d.docker("run", "--rm", "--network", "host", TAG, "echo", "host works")
    assert r.returncode == 0 and "host works" in r.stdout, r.stderr
    r = d.docker("run", "--rm", "-p", "8080:80", TAG, "true")
    assert r.returncode != 0 and "bridge networking is not available" in r.stderr
    r = d.docker("network", "create", d.name("x"))
    assert r.returncode != 0 and "bridge networking is not available" in r.stderr
    assert d.docker("network", "ls", "-q", "--filter", "type=custom").stdout.strip() == ""
    assert d.docker("ps", "-aq").stdout.strip() == ""
    assert not d.veths_settled() and not d.pins()
    assert d.proc.poll() is None
