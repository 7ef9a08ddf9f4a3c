"""containerd's runc shim drives berth-runtime (ctr run --runc-binary)."""
import subprocess
import uuid

from berthtest import TAG


def ctr(sock, *args, timeout=120):
    return subprocess.run(["ctr", "-a", sock, *args], capture_output=True, text=True, timeout=timeout)


def test_ctr_run(containerd, runtime_bin, image_tar):
    r = ctr(containerd, "images", "import", image_tar)
    assert r.returncode == 0, r.stderr
    r = ctr(containerd, "run", "--rm", "--runc-binary", runtime_bin, f"docker.io/{TAG}",
            f"c{uuid.uuid4().hex[:8]}", "sh", "-c", "echo hi-from-containerd; exit 3")
    assert r.stdout.strip() == "hi-from-containerd", r.stderr
    assert r.returncode == 3
    # containerd's default spec mounts no cgroupfs: check the limit by its effect
    r = ctr(containerd, "run", "--rm", "--runc-binary", runtime_bin, "--memory-limit", str(20 << 20),
            f"docker.io/{TAG}", f"c{uuid.uuid4().hex[:8]}", "sh", "-c",
            'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived')
    assert "survived" not in r.stdout and r.returncode == 137, (r.returncode, r.stderr)
