"""`berth inspect -f` prints what `docker inspect -f` prints against the same berthd. The docker
CLI renders templates client side on its Go structs first, and on the raw JSON when that fails;
so a null or absent field prints after its Go type (<nil>, [], map[], ""), an unknown field is
an error, and one failing field sends the whole template to the raw JSON (where a missing key is
an error and a null prints <no value>)."""
import pytest

from berthtest import TAG

TEMPLATES = [
    # null pointers, absent pointers
    "{{.HostConfig.Init}}",
    "{{json .HostConfig.Init}}",
    "{{.State.Health}}",
    "{{json .State.Health}}",
    "{{.Config.Healthcheck}}",
    "{{.Config.StopTimeout}}",
    "{{printf \"%v|%s\" .Config.StopSignal .Config.Cmd}}",
    # nil slices and maps, absent strings
    "{{.Config.Entrypoint}}",
    "{{json .Config.Entrypoint}}",
    "{{len .Config.Entrypoint}}",
    "{{.HostConfig.Links}}",
    "{{.ExecIDs}}",
    "{{.Config.ExposedPorts}}",
    "{{json .Config.ExposedPorts}}",
    "{{.HostConfig.Tmpfs}}",
    "{{.Config.User}}|{{.Config.WorkingDir}}|{{.Config.StopSignal}}",
    "{{range .Config.Entrypoint}}x{{else}}none{{end}}",
    # missing map keys
    "{{.Config.Labels.nokey}}",
    "{{index .Config.Labels \"nokey\"}}",
    "{{index .Config.Labels \"a\"}}|{{index .Config.Labels \"empty\"}}",
    "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
    # false bools, zero numbers
    "{{.HostConfig.Privileged}} {{.HostConfig.AutoRemove}} {{.Config.Tty}}",
    "{{.HostConfig.CPUShares}} {{.HostConfig.Memory}} {{.HostConfig.KernelMemory}}",
    "{{if .HostConfig.Init}}init{{else}}no-init{{end}}",
    # structs in Go's field order, durations
    "{{.HostConfig.RestartPolicy}}",
    "{{.HostConfig.LogConfig}}",
    "{{.GraphDriver.Name}}",
    "{{.Config.Healthcheck.Interval}} {{.Config.Healthcheck.Timeout}}",
    "{{.Config.Healthcheck.Retries}}",
    # unknown fields and nil pointers: errors
    "{{.Nope}}",
    "{{.Config.Nope}}",
    "{{.State.Health.Status}}",
    "{{.Config.Healthcheck.Test}}",
    # JSON names that are not the Go names: the raw run decides
    "{{.ID}}",
    "{{.Id}} {{.HostConfig.Init}}",
    "{{.HostConfig.Dns}} {{.HostConfig.DNS}}",
    "{{.Id}} {{index .Config.Labels \"nokey\"}}",
    "{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}",
    "{{with .State}}{{.Status}} {{.Health}}{{end}}",
    # the raw JSON run (.Id) over Config keys docker always has, and State keys it does not
    "{{.Config.User}}|{{.Config.Domainname}}|{{.Config.WorkingDir}}|{{.Id}}",
    "{{json .Config.OnBuild}} {{json .Config.Entrypoint}} {{.Id}}",
    "{{.State.Removing}} {{.Id}}",
]


@pytest.fixture(scope="module")
def containers(berthd):
    plain = berthd.name("tplain")
    hc = berthd.name("thealth")
    created = berthd.name("tcreated")
    assert berthd.docker("run", "-d", "--name", plain, "--network=none", TAG, "sleep",
                         "600").returncode == 0
    r = berthd.docker("run", "-d", "--name", hc, "--network=none", "--restart", "on-failure:3",
                      "-l", "a=b", "-l", "empty=", "--health-cmd", "true",
                      "--health-interval", "1h30m", "--health-timeout", "1500ms", TAG,
                      "sleep", "600")
    assert r.returncode == 0, r.stderr
    r = berthd.docker("create", "--name", created, "--init", "--network=none", TAG, "true")
    assert r.returncode == 0, r.stderr
    yield [plain, hc, created]
    berthd.container_ids()
    berthd.docker("rm", "-f", plain, hc, created)


@pytest.mark.parametrize("template", TEMPLATES)
def test_inspect_format_like_docker(berthd, containers, template):
    for name in containers:
        theirs = berthd.docker("inspect", "-f", template, name)
        ours = berthd.cli("inspect", "-f", template, name)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), \
            (name, ours.stderr, theirs.stderr)
        if theirs.returncode:
            assert "template" in ours.stderr


def test_the_table_covers_each_case(berthd, containers):
    """The cases the table is about do occur: a <nil>, a [], a map[], an error, a Go struct."""
    out = {t: berthd.docker("inspect", "-f", t, containers[0]) for t in TEMPLATES}
    assert out["{{.HostConfig.Init}}"].stdout == "<nil>\n"
    assert out["{{.Config.Entrypoint}}"].stdout == "[]\n"
    assert out["{{.HostConfig.Tmpfs}}"].stdout == "map[]\n"
    assert out["{{.Nope}}"].returncode != 0
    assert out["{{.HostConfig.RestartPolicy}}"].stdout == "{no 0}\n"
    hc = berthd.cli("inspect", "-f", "{{.Config.Healthcheck.Interval}} {{.State.Health}}",
                    containers[1])
    assert hc.stdout == "1h30m0s {starting 0 []}\n", hc.stderr


def test_raw_run_sees_dockers_keys(berthd, containers):
    """A template docker can only run on the raw JSON (.Id is not a Go field name) needs the keys
    dockerd always sends (Config.User, Domainname, WorkingDir, OnBuild, Entrypoint) and fails on keys
    dockerd does not send (State.Removing), through both CLIs."""
    cid = berthd.docker("inspect", "-f", "{{.ID}}", containers[0], check=True).stdout.strip()
    for run in (berthd.docker, berthd.cli):
        r = run("inspect", "-f", TEMPLATES[-3], containers[0])
        assert r.stdout == f"|||{cid}\n", r.stderr
        r = run("inspect", "-f", TEMPLATES[-2], containers[0])
        assert r.stdout == f"null null {cid}\n", r.stderr
        assert run("inspect", "-f", TEMPLATES[-1], containers[0]).returncode != 0
