"""`berth completion bash|zsh|fish`: verbs, flags, and names from the daemon."""
import os
import subprocess

from berthtest import BERTH_CLI, TAG

DRIVER = """source <(berth completion bash)
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _berth; echo "${COMPREPLY[*]}"; }
"""


def complete(berthd, *lines):
    env = dict(berthd.env, PATH=os.path.dirname(BERTH_CLI) + ":" + os.environ["PATH"])
    script = DRIVER + "\n".join(f"t berth -H unix://{berthd.sock} {line}" for line in lines)
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return [set(line.split()) for line in r.stdout.splitlines()]


def test_bash_completion_covers_verbs_flags_and_names(berthd):
    name = berthd.name("compl")
    vol = berthd.name("vol")
    berthd.docker("run", "-d", "--name", name, "--network=none", TAG, "sleep", "60", check=True)
    berthd.docker("volume", "create", vol, check=True)
    try:
        got = complete(berthd, "ru", "container st", "stop compl", "run --rest", "rmi berth-te",
                       "volume rm vol", "completion ''", "logs --ta", "run ''")
        assert got[0] == {"run"}
        assert got[1] == {"start", "stop", "stats"}
        assert name in got[2]
        assert got[3] == {"--restart"}
        assert got[4] == {TAG}
        assert vol in got[5]
        assert got[6] == {"bash", "zsh", "fish"}
        assert got[7] == {"--tail"}
        assert TAG in got[8] and name not in got[8]  # run's first argument is an image
    finally:
        berthd.docker("rm", "-f", name)
        berthd.docker("volume", "rm", vol)


def test_completion_scripts_for_each_shell():
    for shell in ("bash", "zsh", "fish"):
        r = subprocess.run([BERTH_CLI, "completion", shell], capture_output=True, text=True)
        assert r.returncode == 0 and "berth" in r.stdout
    assert "bashcompinit" in subprocess.run([BERTH_CLI, "completion", "zsh"],
                                            capture_output=True, text=True).stdout
    assert "complete -c berth" in subprocess.run([BERTH_CLI, "completion", "fish"],
                                                 capture_output=True, text=True).stdout
    r = subprocess.run([BERTH_CLI, "completion", "tcsh"], capture_output=True, text=True)
    assert r.returncode == 1 and "unknown shell `tcsh`" in r.stderr
    r = subprocess.run(["bash", "-n"], input=subprocess.run(
        [BERTH_CLI, "completion", "bash"], capture_output=True, text=True).stdout,
        capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
