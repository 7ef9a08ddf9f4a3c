"""Values and helpers shared by every test folder. Import them from here (`from berthtest import
X`): every folder has its own conftest.py, and `from conftest import X` would pick whichever of
them pytest imported last."""
import functools
import os
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(ROOT, "build"))
BERTH_CLI = os.environ.get("BERTH_CLI") or os.path.join(BUILD, "cmd", "berth")
# the image tests/conftest.py's image_tar fixture makes
TAG = "berth-test/busybox:latest"


def cgroup_mode():
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "v2"
    if os.path.ismount("/sys/fs/cgroup/unified"):
        return "hybrid"
    return "v1"


def shim_is_static():
    """The release berth-shim is static, so it can also run inside any rootfs as docker-init;
    a sanitizer build's is dynamically linked (and ASan's shadow memory makes it big)."""
    with open(os.path.join(BUILD, "cmd", "berth-shim"), "rb") as f:
        return b"ld-linux" not in f.read(4096)


@functools.lru_cache(maxsize=None)
def build_sanitizers():
    """The sanitizers the build under test was configured with (meson's b_sanitize, e.g.
    "address,undefined"), "" for a plain build or when the build dir has no meson-info."""
    import json
    try:
        with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as f:
            opts = json.load(f)
    except (OSError, ValueError):
        return ""
    for o in opts:
        if o.get("name") == "b_sanitize":
            v = o.get("value")
            return "" if v in (None, "none") else (",".join(v) if isinstance(v, list) else v)
    return ""


def skip_dockerd_when_sanitized():
    """The dockerd oracle checks docker's behaviour, which the release run already compares
    berth with; a sanitized run is there for berth's own binaries, so it leaves dockerd out
    (CI runs the suite in both builds and the oracle's half would only repeat itself)."""
    import pytest
    if build_sanitizers():
        pytest.skip("sanitized build: dockerd's side of the comparison runs in the release run")


# what ASan, LSan and UBSan print when they report something
SANITIZER_MARKS = ("ERROR: LeakSanitizer", "ERROR: AddressSanitizer", "AddressSanitizer",
                   "runtime error:")


def sanitizer_reports(text):
    """The sanitizer report lines in text (a log or a process's stderr); [] when clean."""
    return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKS)]


def sanitizer_env(env, log_prefix):
    """env with ASAN_OPTIONS/UBSAN_OPTIONS (kept, with log_path=log_prefix added) so every
    sanitized process started with it (and its children: berthd's shims) writes its report to
    log_prefix.<pid>; see sanitizer_logs."""
    env = dict(env)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        opts = [o for o in env.get(var, "").split(":") if o and not o.startswith("log_path=")]
        env[var] = ":".join(opts + [f"log_path={log_prefix}"])
    return env


def sanitizer_logs(log_prefix, seen=None):
    """{path: report} of the log_prefix.<pid> files holding a sanitizer report, skipping (and
    then adding) the paths in the set seen."""
    import glob
    out = {}
    for path in sorted(glob.glob(glob.escape(log_prefix) + ".*")):
        if seen is not None and path in seen:
            continue
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if sanitizer_reports(text):
            out[path] = text
            if seen is not None:
                seen.add(path)
    return out


_CHILD_REPORTS_SEEN = set()


@pytest.fixture(autouse=True)
def sanitized_clients_report_nothing(tmp_path_factory, monkeypatch):
    """An autouse fixture for a conftest to import: with a sanitized build, the berth binaries a
    test runs (the CLI, shims a test starts itself) write their ASan/LSan/UBSan report to a file
    (their stderr is often captured and ignored, or the shim's a pipe nobody reads once it has
    detached): the test fails when one appeared during it."""
    if not build_sanitizers():
        yield
        return
    prefix = os.path.join(str(tmp_path_factory.getbasetemp()), "children.sanitizer")
    env = sanitizer_env(os.environ, prefix)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        monkeypatch.setenv(var, env[var])
    yield
    reports = sanitizer_logs(prefix, _CHILD_REPORTS_SEEN)
    assert not reports, "sanitizer report of a berth program the test ran: " + "".join(
        f"\n--- {p}\n{t[:6000]}" for p, t in reports.items())


def poll(cond, what, timeout=30, interval=0.05):
    """Call cond() until it returns something true, and return that; fail the test with `what`
    when it has not after timeout seconds. A wait for a condition, never a fixed sleep."""
    end = time.time() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.time() > end:
            pytest.fail(f"{what}: not after {timeout} s")
        time.sleep(interval)


def settled(read, what, quiet=0.5, timeout=15):
    """read() until its value has stayed the same for `quiet` seconds (e.g. a daemon's thread count
    once the threads of finished requests are gone), and return it; fail with `what` when it keeps
    changing for timeout seconds."""
    end = time.time() + timeout
    value, since = read(), time.time()
    while time.time() - since < quiet:
        if time.time() > end:
            pytest.fail(f"{what}: still changing after {timeout} s ({value})")
        time.sleep(0.05)
        now = read()
        if now != value:
            value, since = now, time.time()
    return value


def next_second():
    """Wait until the wall clock's whole second changes: what happens next is at least one whole
    second apart from what happened before (docker's created and events times, compared in
    seconds)."""
    start = int(time.time())
    poll(lambda: int(time.time()) > start, "the clock's next second", timeout=5, interval=0.02)
