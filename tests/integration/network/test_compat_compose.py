"""Debian's docker-compose 1.29 against dockerd and berthd (each in its own network namespace):
`up -d`, `ps`, `logs` and `down` of a two-service project where `web` publishes a port and calls
`backend` by its service name on the project's network."""
import os
import shutil
import subprocess
import time

import pytest

from berthtest import TAG

COMPOSE = f"""version: "2.4"
services:
  backend:
    image: {TAG}
    command: ["httpd", "-f", "-p", "8000", "-h", "/etc"]
  web:
    image: {TAG}
    depends_on: [backend]
    ports: ["18081:80"]
    command:
      - sh
      - -c
      - |
        mkdir -p /www
        until wget -qO /www/group http://backend:8000/group; do sleep 0.2; done
        echo fetched-from-backend
        exec httpd -f -p 80 -h /www
"""


def test_compose_two_services(engine, tmp_path):
    if not shutil.which("docker-compose"):
        pytest.fail("docker-compose is not installed (scripts/install-deps.sh installs it)")
    e = engine
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    project = e.name("proj").replace("-", "")
    env = dict(e.env, COMPOSE_PROJECT_NAME=project, COMPOSE_API_VERSION=e.api)

    def compose(*args, timeout=180):
        return subprocess.run(["docker-compose", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=timeout)

    try:
        r = compose("up", "-d")
        assert r.returncode == 0, r.stdout + r.stderr
        got = ""
        for _ in range(100):
            got = e.host("timeout", "5", "busybox", "wget", "-qO-",
                         "http://127.0.0.1:18081/group").stdout
            if got:
                break
            time.sleep(0.2)
        assert got.startswith("root:x:0:"), compose("logs").stdout
        r = compose("ps")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        for svc in ("backend", "web"):
            (line,) = [x for x in lines if x.startswith(f"{project}_{svc}_1")]
            assert " Up " in f" {line} "
        assert "18081->80/tcp" in r.stdout
        r = compose("logs", "web")
        assert r.returncode == 0 and "fetched-from-backend" in r.stdout, r.stdout + r.stderr
        nets = e.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert f"{project}_default" in nets
    finally:
        r = compose("down")
    assert r.returncode == 0, r.stdout + r.stderr
    assert e.docker("ps", "-aq", "--filter", f"name={project}").stdout == ""
    nets = e.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert f"{project}_default" not in nets
    assert not os.path.exists(tmp_path / ".env")
