"""First contact with the berth CLI: a user without access to the socket is told why, and an
auto-started berthd that fails says its own error."""
import os
import subprocess

from berthtest import BERTH_CLI

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_permission_denied_on_the_socket_says_why(berthd_factory):
    d = berthd_factory(load=False)
    os.chmod(os.path.dirname(d.sock), 0o755)  # the socket itself stays 0660 root:root
    r = subprocess.run(NOBODY + [BERTH_CLI, "-H", f"unix://{d.sock}", "ps"], capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert (f"permission denied on {d.sock}; berthd runs as root — use sudo (the socket has no "
            "group to join)") in r.stderr, r.stderr
    os.chown(d.sock, 0, 100)  # group `users`
    r = subprocess.run(NOBODY + [BERTH_CLI, "-H", f"unix://{d.sock}", "ps"], capture_output=True,
                       text=True)
    assert ("berthd runs as root — use sudo or join the socket's group (`users`)"
            in r.stderr), r.stderr
    # a member of that group gets in
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=100", "--groups=100", BERTH_CLI,
                        "-H", f"unix://{d.sock}", "ps"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("CONTAINER ID"), r.stderr


def test_non_root_without_a_daemon_is_told_berthd_runs_as_root(tmp_path):
    script = tmp_path / "nobody.sh"
    script.write_text(f"""mount -t tmpfs tmpfs /run
{' '.join(NOBODY)} {BERTH_CLI} ps
""")
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "BERTH_HOST")}
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", str(script)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1
    assert ("Cannot connect to the berth daemon at unix:///run/berth/berth.sock: it is not "
            "running, and berthd runs as root") in r.stderr, r.stderr
    assert "starting" not in r.stderr


def test_an_auto_started_berthd_that_fails_shows_its_error(tmp_path):
    """berthd cannot make its data root on a read-only /var/lib: berth says berthd's words."""
    script = tmp_path / "fail.sh"
    script.write_text(f"""mount -t tmpfs tmpfs /run
mount -t tmpfs -o ro tmpfs /var/lib
{BERTH_CLI} ps
echo "rc=$?"
""")
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "BERTH_HOST")}
    r = subprocess.run(["unshare", "-m", "-p", "-f", "--mount-proc", "--propagation", "private",
                        "sh", str(script)], capture_output=True, text=True, env=env, timeout=60)
    assert r.stdout.strip().endswith("rc=1"), r.stdout + r.stderr
    assert "exited before answering: " in r.stderr, r.stderr
    assert "(nothing in its log)" not in r.stderr
    assert "/var/lib/berth" in r.stderr.split("exited before answering: ")[1], r.stderr
