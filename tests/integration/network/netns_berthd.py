"""Fixtures for the engine's own networking tests (test_engine_*.py import them from here; the
folder's conftest.py belongs to the docker/berth CLI comparison tests): berthd runs inside a network namespace the fixture makes and
pins (unshare --net=FILE, loopback up), so the bridges, veths, nftables rules and published ports
it makes never touch the machine's own, and a restarted daemon finds the same namespace. Probes
(busybox wget/nc, ip) run in that namespace through nsenter (NetBerthd.sh).

The engine tests' Berthd and factory are reused (loaded from their conftest file: a conftest
cannot be imported by name)."""
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_engine = _load("berth_engine_conftest_netns", os.path.join(HERE, "..", "engine", "conftest.py"))
sanitized_clients_report_nothing = _engine.sanitized_clients_report_nothing
TAG = _engine.TAG


class NetBerthd(_engine.Berthd):
    def sh(self, cmd, timeout=30):
        """cmd (a shell line) inside the daemon's network namespace."""
        return subprocess.run(["nsenter", f"--net={self.netns}", "sh", "-c", cmd],
                              capture_output=True, text=True, timeout=timeout)

    def links(self):
        return self.sh("ip -o link show").stdout

    def veths(self):
        out = self.sh("ip -o link show type veth").stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]

    def veths_settled(self, want=(), timeout=10):
        """veths() once it is want (default: none): berthd deletes a released endpoint's link
        off the request's path (its reaper thread), so it may outlive the request by a few ms."""
        end = time.time() + timeout
        got = self.veths()
        while sorted(got) != sorted(want) and time.time() < end:
            time.sleep(0.05)
            got = self.veths()
        return got

    def pins(self):
        d = os.path.join(self.data_root, "runtime", "netns")
        return os.listdir(d) if os.path.isdir(d) else []


class _NetFactory:
    """Daemons each in a namespace of their own; everything is removed at the end and checked:
    no container, veth, netns pin or mount left."""

    def __init__(self, tmp_path_factory, image):
        self.tmp = tmp_path_factory
        self.image = image
        self.made = []

    def __call__(self, wrap=(), args=()):
        base = str(self.tmp.mktemp("netd"))
        nsdir = os.path.join(base, "ns")
        os.mkdir(nsdir)
        # the pin on a private mount, like `ip netns` does
        subprocess.run(["mount", "--bind", nsdir, nsdir], check=True)
        subprocess.run(["mount", "--make-private", nsdir], check=True)
        pin = os.path.join(nsdir, "host")
        open(pin, "w").close()
        subprocess.run(["unshare", f"--net={pin}", "true"], check=True)
        subprocess.run(["nsenter", f"--net={pin}", "ip", "link", "set", "lo", "up"], check=True)
        sockdir = tempfile.mkdtemp(prefix="berthd-net-")
        d = NetBerthd(os.path.join(base, "data"), os.path.join(sockdir, "berth.sock"),
                      os.path.join(base, "berthd.log"), netns=pin)
        d.sockdir, d.nsdir = sockdir, nsdir
        d.launcher = list(wrap)
        self.made.append(d)
        d.start(*args)
        d.load_image(self.image)
        return d

    def finish(self):
        errors = []
        for d in self.made:
            try:
                if d.proc is None:
                    d.start()
                d.container_ids()
                d.cleanup()
                r = d.docker("network", "ls", "-q", "--filter", "type=custom")
                for n in r.stdout.split():
                    d.docker("network", "rm", n)
                left_veths, left_pins = d.veths_settled(), d.pins()
                d.stop()
                with open("/proc/self/mountinfo") as f:
                    mounts = [line.split()[4] for line in f if d.data_root in line]
                for m in mounts:
                    subprocess.run(["umount", "-l", m], check=False)
                assert not left_veths, f"veths left: {left_veths}"
                assert not left_pins, f"netns pins left: {left_pins}"
                assert not mounts, f"mounts left: {mounts}"
            except BaseException as e:  # noqa: B902 — every daemon is still stopped and dropped
                errors.append(e)
            finally:
                if d.proc is not None:
                    d.stop()
                subprocess.run(["umount", "-l", d.netns], check=False)
                subprocess.run(["umount", "-l", d.nsdir], check=False)
                shutil.rmtree(d.sockdir, ignore_errors=True)
        if errors:
            raise errors[0]


@pytest.fixture(scope="module")
def net_factory(tmp_path_factory, image_tar):
    f = _NetFactory(tmp_path_factory, image_tar)
    yield f
    f.finish()


@pytest.fixture(scope="module")
def netd(net_factory):
    """A berthd in its own network namespace, busybox (TAG) loaded, shared by a module's tests
    (they remove what they make)."""
    return net_factory()
