"""`berth VERB --help` lists each option with docker's one-line description and default, checked
against the installed docker CLI's own --help (the oracle: berth's options are docker's)."""
import os
import re
import subprocess

import pytest

BUILD = os.environ.get("BERTH_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                   "build"))
BERTH = os.environ.get("BERTH_CLI") or os.path.join(BUILD, "cmd", "berth")
FLAG = re.compile(r"^\s+(?:-(\w), )?--([\w-]+)(?: (\w+))?\s{2,}(\S.*)$")
VERBS = ["run", "create", "ps", "logs", "exec", "images", "image prune", "volume ls",
         "container prune", "system df", "events", "stop", "update", "commit", "cp", "inspect"]


def options(cmd, env=None):
    """{flag: (type, description)} of a cobra-style --help (wrapped lines joined)."""
    out = subprocess.run(cmd, capture_output=True, text=True, env=env).stdout
    opts, cur = {}, None
    for line in out.splitlines():
        m = FLAG.match(line)
        if m:
            cur = m.group(2)
            opts[cur] = (m.group(3) or "", m.group(4).strip())
        elif cur and line.startswith(" " * 20) and line.strip():
            opts[cur] = (opts[cur][0], opts[cur][1] + " " + line.strip())
        else:
            cur = None
    return opts


@pytest.mark.parametrize("verb", VERBS)
def test_help_describes_each_option_as_docker(verb):
    assert os.access(BERTH, os.X_OK), f"{BERTH} not built"
    ours = options([BERTH, *verb.split(), "--help"])
    docker = options(["docker", *verb.split(), "--help"],
                     env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"})
    assert ours, f"berth {verb} --help lists no option with a description"
    shared = set(ours) & set(docker)
    assert len(shared) >= len(ours) - 1  # --help itself is berth's only extra line
    for flag in shared:
        assert ours[flag] == docker[flag], (verb, flag)


def test_run_help_names_defaults():
    out = subprocess.run([BERTH, "run", "--help"], capture_output=True, text=True).stdout
    assert re.search(r"^\s+--restart string\s+Restart policy to apply when a container exits "
                     r"\(default \"no\"\)$", out, re.M), out
    assert re.search(r"^\s+-d, --detach\s+Run container in background and print container ID$",
                     out, re.M)
