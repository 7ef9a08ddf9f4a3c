"""dockerd with `--add-runtime berth=…`: docker run --runtime berth, exit codes, exec."""
import subprocess
import uuid

from berthtest import TAG


def docker(env, *args, timeout=120):
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_docker_run_and_exec(dockerd, image_tar):
    r = docker(dockerd, "load", "-i", image_tar)
    assert r.returncode == 0, r.stderr
    r = docker(dockerd, "run", "--runtime", "berth", "--rm", "--network", "none", TAG, "echo", "hi")
    assert r.returncode == 0 and r.stdout.strip() == "hi", r.stderr
    r = docker(dockerd, "run", "--runtime", "berth", "--rm", "--network", "none", TAG, "sh", "-c", "exit 3")
    assert r.returncode == 3
    name = f"d{uuid.uuid4().hex[:8]}"
    r = docker(dockerd, "run", "-d", "--runtime", "berth", "--name", name, "--network", "none", TAG, "sleep", "100")
    assert r.returncode == 0, r.stderr
    r = docker(dockerd, "exec", name, "sh", "-c", "echo in-exec; grep Seccomp: /proc/self/status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[:3] == ["in-exec", "Seccomp:", "2"]
    assert docker(dockerd, "rm", "-f", name).returncode == 0
