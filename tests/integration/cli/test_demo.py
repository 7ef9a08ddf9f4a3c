"""The README's first command (`make demo` = scripts/demo.sh): the bare runtime on a bundle, then
berthd on a private data root and socket, `berth run --rm busybox …` from the embedded default
image and the docker CLI against it; it prints what a newcomer should see and leaves nothing
running and nothing behind."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(ROOT, "build"))


def _processes_mentioning(text):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append((int(pid), cmd))
    return found


def test_demo_runs_the_engine_and_leaves_nothing(tmp_path):
    demo = str(tmp_path / "berth-demo")
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "BERTH_HOST")}
    env["BERTH_DEMO_DIR"] = demo
    # berthd makes its default bridge at start: the demo runs in a network namespace of the
    # test's own so the machine's interfaces and nftables stay untouched
    r = subprocess.run(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$1"',
                        os.path.join(ROOT, "scripts", "demo.sh"), BUILD], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = r.stdout
    # the runtime part, then the engine: the default image listed and run through berthd
    assert "hello from berth, pid 1 in its own namespaces" in out
    assert f"API on unix://{demo}/berth.sock" in out
    lines = out.splitlines()
    image_row = [ln for ln in lines if ln.startswith("busybox ")]
    assert image_row and image_row[0].split()[1] == "latest", out
    hello = [ln for ln in lines if ln.startswith("hello from busybox in container ")]
    assert len(hello) == 1 and len(hello[0].split()[-1]) == 12, out
    assert "hello from docker run" in out
    assert lines[-1].startswith("done: nothing left running")
    assert out.index("hello from berth,") < out.index("== berthd") < out.index(hello[0])
    # nothing left: no berthd or shim of the demo, its dir removed
    assert _processes_mentioning(demo) == []
    assert not os.path.exists(demo)
