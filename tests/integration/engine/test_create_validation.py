"""Create refuses what dockerd refuses, in its words: the docker CLI's run exits 125, create 1,
and nothing is left behind."""
import docker
import pytest

from berthtest import TAG

POLICY = "invalid restart policy: "


@pytest.mark.parametrize("args, message", [
    (["--restart", "bogus"], POLICY + "unknown policy 'bogus'; use one of 'no', 'always', "
                             "'on-failure', or 'unless-stopped'"),
    (["--restart", "always:3"], POLICY + "maximum retry count can only be used with 'on-failure'"),
    (["--restart", "unless-stopped:1"],
     POLICY + "maximum retry count can only be used with 'on-failure'"),
    (["--restart", "no:2"], POLICY + "maximum retry count can only be used with 'on-failure'"),
    (["--restart", "on-failure:-1"], POLICY + "maximum retry count cannot be negative"),
    (["--stop-signal", "NOTASIG"], "Invalid signal: NOTASIG"),
], ids=["unknown", "always-max", "unless-stopped-max", "no-max", "negative", "stop-signal"])
def test_invalid_create_is_refused(berthd, args, message):
    name = berthd.name("invalid")
    before = set(berthd.container_ids())
    r = berthd.docker("run", "-d", "--name", name, "--network", "none", *args, TAG, "true")
    assert r.returncode == 125, (r.returncode, r.stderr)
    assert r.stderr.startswith(f"docker: Error response from daemon: {message}"), r.stderr
    r = berthd.docker("create", "--name", name, "--network", "none", *args, TAG, "true")
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert berthd.docker("inspect", name).returncode != 0
    assert set(berthd.container_ids()) == before


def test_valid_policies_are_taken(berthd):
    client = berthd.sdk()
    for policy, sig in (({"Name": "on-failure", "MaximumRetryCount": 3}, "SIGUSR1"),
                        ({"Name": "always"}, "9"), ({"Name": "", "MaximumRetryCount": 0}, "")):
        c = client.containers.create(TAG, "true", restart_policy=policy, stop_signal=sig or None,
                                     network_mode="none")
        try:
            assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == policy["Name"] or \
                not policy["Name"]
        finally:
            c.remove(force=True)
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.create(TAG, "true", restart_policy={"Name": "bogus"})
    assert e.value.status_code == 400


def test_update_refuses_an_invalid_restart_policy(berthd):
    name = berthd.name("upd")
    berthd.docker("create", "--name", name, "--network", "none", TAG, "true", check=True)
    try:
        for policy, message in (("bogus", POLICY + "unknown policy 'bogus'"),
                                ("always:3", POLICY + "maximum retry count can only be used "
                                                      "with 'on-failure'")):
            r = berthd.docker("update", "--restart", policy, name)
            assert r.returncode == 1 and message in r.stderr, r.stderr
        r = berthd.docker("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", name)
        assert r.stdout.strip() in ("", "no"), r.stdout
        berthd.docker("update", "--restart", "on-failure:2", name, check=True)
        r = berthd.docker("inspect", "-f",
                          "{{.HostConfig.RestartPolicy.Name}}:"
                          "{{.HostConfig.RestartPolicy.MaximumRetryCount}}", name)
        assert r.stdout.strip() == "on-failure:2", r.stdout
    finally:
        berthd.docker("rm", "-f", name)
