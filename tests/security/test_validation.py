"""Issue 7, items 6 and 7 (first half), through the installed leafctl: input that used to slip past
validation (profile names, float/bool integer keys, environment versions, non-finite or overflowing
ESP numbers) is refused with exit 2 naming what is wrong, and a network failure is reported as one
(exit 1, "cannot reach Azure"), not as a failed sign-in.

The network cases never send traffic off this machine: every request is routed through a proxy on a
closed 127.0.0.1 port or on a ``.invalid`` host, which cannot be resolved.
"""

from __future__ import annotations

import csv
import os
import socket
from pathlib import Path

import pytest
from leaftest import assert_error

BAD_NAMES = ["bad name/../x", "dév😀", "../etc", "dev\n"]
EVOLVE = ["--actions", "discount", "--outcomes", "revenue", "--objective", "revenue:max",
          "--objective", "action_cost:min", "--generations", "1", "--population", "12", "--predictor", "ridge"]


def _one_error_line(r) -> None:
    assert [ln for ln in r.stderr.splitlines() if ln.strip()] == [r.stderr.strip()], r  # exactly one line


def _config(text: str) -> Path:
    cfg = Path(os.environ["LEAFCTL_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(text)
    cfg.chmod(0o600)
    return cfg


def _csv(path: Path, rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def _table(tmp_path: Path, big: str | None = None) -> Path:
    """60 rows of age, discount, revenue; ``big`` names a column whose values become 1e308."""
    rows: list[list[object]] = [["age", "discount", "revenue"]]
    for i in range(60):
        row: list[object] = [20 + i % 40, round((i % 10) / 20, 3), 100 + i * 1.5 - (i % 10) * 3]
        if big is not None:
            j = rows[0].index(big)
            row[j] = f"{1 + i % 7}e308" if i % 7 < 1 else f"{1 + i % 7}e307"  # up to 1e308, varied
        rows.append(row)
    return _csv(tmp_path / "table.csv", rows)


# ----------------------------------------------------------------- profile names


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("command", [["workspace", "list"], ["compute", "list"], ["config", "show"],
                                     ["env", "list"], ["compute", "list-sizes"]])
def test_bad_profile_flag_exit_2_on_every_command(exe, name, command):
    r = exe("-p", name, *command)
    assert_error(r, 2, "invalid profile name", "--profile")
    _one_error_line(r)


def test_bad_profile_from_environment_and_config_file_exit_2(exe):
    for name in ("bad name/../x", "dév😀"):
        r = exe("workspace", "list", env={"LEAFCTL_PROFILE": name})
        assert_error(r, 2, "invalid profile name", "LEAFCTL_PROFILE")
        _one_error_line(r)
    _config('current_profile = "../evil"\n[profiles."../evil"]\nbackend = "local"\n')
    r = exe("workspace", "list")
    assert_error(r, 2, "invalid profile name", "current_profile")
    r = exe("config", "validate")
    assert_error(r, 2, "invalid profile name")


def test_config_commands_refuse_bad_profile_names(exe):
    assert exe("config", "init").code == 0
    for args in (["config", "use", "bad name/../x"], ["config", "unset", "workspace", "-p", "dév😀"],
                 ["config", "set", "workspace", "w", "-p", "../x"]):
        assert_error(exe(*args), 2, "invalid profile name")


# ----------------------------------------------------------------- integer keys


@pytest.mark.parametrize("raw,shown", [("2.5", "2.5"), ("true", "true"), ('"2.5"', "2.5"), ('"２"', "２")])
def test_integer_keys_refuse_floats_and_bools(exe, raw, shown):
    _config(f'current_profile = "dev"\n[profiles.dev]\nbackend = "local"\ncompute_max_nodes = {raw}\n')
    r = exe("config", "show")
    assert_error(r, 2, "compute_max_nodes must be an integer", shown)
    _one_error_line(r)
    assert_error(exe("config", "validate"), 2, "compute_max_nodes must be an integer")
    _config('current_profile = "dev"\n[profiles.dev]\nbackend = "local"\n')
    assert_error(exe("config", "set", "compute_min_nodes", raw.strip('"')), 2, "compute_min_nodes must be an integer")
    assert "compute_min_nodes" not in Path(os.environ["LEAFCTL_CONFIG"]).read_text()  # nothing written
    r = exe("compute", "list", env={"LEAFCTL_COMPUTE_MIN_NODES": raw.strip('"')})
    assert_error(r, 2, "compute_min_nodes must be an integer", "LEAFCTL_COMPUTE_MIN_NODES")


def test_integer_keys_still_take_integers(exe):
    _config('current_profile = "dev"\n[profiles.dev]\nbackend = "local"\ncompute_max_nodes = 3\n')
    r = exe("config", "show", "-o", "json", env={"LEAFCTL_COMPUTE_MIN_NODES": "1"})
    assert r.code == 0, r
    assert (r.json()["compute_max_nodes"], r.json()["compute_min_nodes"]) == (3, 1)


# ----------------------------------------------------------------- environment versions


@pytest.mark.parametrize("version", ["../2", "2/..", "..", "1\n", "dé1", " 2"])
def test_env_create_refuses_a_path_as_version(exe, version):
    r = exe("env", "create", "e", "--image", "mcr.microsoft.com/azureml/minimal", "--version", version)
    assert_error(r, 2, "invalid version")
    _one_error_line(r)
    r = exe("env", "create", "e", "--image", "mcr.microsoft.com/azureml/minimal", "--version", version, "--dry-run")
    assert_error(r, 2, "invalid version")
    listed = exe("env", "list", "-o", "json")
    assert listed.code == 0 and listed.json() == [], listed  # nothing stored


def test_env_create_still_takes_plain_versions(exe):
    for v in ("2", "1.0.3", "v2-beta_1"):
        r = exe("env", "create", "e", "--image", "mcr.microsoft.com/azureml/minimal", "--version", v, "-o", "json")
        assert r.code == 0 and r.json()["version"] == v, r


def test_data_asset_versions_follow_the_same_rule(exe, tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    for version in ("../2", "1\n", "dé1"):
        assert_error(exe("data", "create", "d", "--path", str(tmp_path / "t.csv"), "--version", version), 2, "invalid version")
    assert exe("data", "list", "-o", "json").json() == []
    r = exe("data", "create", "d", "--path", str(tmp_path / "t.csv"), "--version", "1.0-rc1", "-o", "json")
    assert r.code == 0 and r.json()["version"] == "1.0-rc1", r


def test_azure_env_create_refuses_a_path_as_version_before_any_request(exe, tmp_path):
    """Azure puts the version in the request URL (.../environments/e/versions/../2): refused locally."""
    _config(_AZURE_PROFILE)
    r = exe("env", "create", "e", "--image", "mcr.microsoft.com/azureml/minimal", "--version", "../2",
            env=_offline(f"http://127.0.0.1:{_closed_port()}"))
    assert_error(r, 2, "invalid version")


# ----------------------------------------------------------------- ESP numbers


@pytest.mark.parametrize("weight", ["nan", "inf", "-inf", "1e309", "1e300"])
def test_action_cost_flag_refuses_non_finite_weights(exe, tmp_path, weight):
    data = _table(tmp_path)
    r = exe("run", "evolve", "--data", str(data), *EVOLVE, "--action-cost", f"discount={weight}")
    assert_error(r, 2, "--action-cost", "discount")
    _one_error_line(r)
    assert exe("run", "list", "-o", "json").json() == []  # nothing was submitted


def test_action_cost_in_config_file_refuses_non_finite_weights(exe, tmp_path):
    data = _table(tmp_path)
    conf = tmp_path / "evolve.toml"
    conf.write_text(f'data = "{data.name}"\nactions = ["discount"]\noutcomes = ["revenue"]\n'
                    'objectives = ["revenue:max", "action_cost:min"]\npopulation = 12\ngenerations = 1\n'
                    '[action_cost]\ndiscount = nan\n')
    assert_error(exe("run", "evolve", str(conf)), 2, "action_cost", "discount", "nan")
    conf.write_text(conf.read_text().replace("discount = nan", "discount = -inf"))
    assert_error(exe("run", "evolve", str(conf)), 2, "action_cost", "discount", "inf")
    assert exe("run", "list", "-o", "json").json() == []


@pytest.mark.parametrize("column", ["age", "discount", "revenue"])
def test_huge_numeric_column_exit_2_naming_it(exe, tmp_path, column):
    r = exe("run", "evolve", "--data", str(_table(tmp_path, big=column)), *EVOLVE)
    assert_error(r, 2, f"column '{column}'", "too large", "1e+308")
    _one_error_line(r)
    assert exe("run", "list", "-o", "json").json() == []


def test_ordinary_table_still_evolves(exe, tmp_path):
    r = exe("run", "evolve", "--data", str(_table(tmp_path)), *EVOLVE, "--action-cost", "discount=2", "-o", "json")
    assert r.code == 0 and r.json()["status"] == "Completed", r


# ----------------------------------------------------------------- network failures

_AZURE_PROFILE = """current_profile = "az"
[profiles.az]
backend = "azure"
subscription_id = "00000000-0000-0000-0000-000000000000"
resource_group = "rg"
workspace = "ws"
auth = "service-principal"
tenant_id = "00000000-0000-0000-0000-000000000001"
client_id = "00000000-0000-0000-0000-000000000002"
client_secret = "env:LEAF_TEST_SP_SECRET"
"""


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: a connection is refused at once
    return port


def _offline(proxy: str) -> dict:
    """Every HTTP(S) request, sign-in included, goes to ``proxy``, which cannot be reached."""
    env = {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "http_proxy": proxy,
           "NO_PROXY": "", "no_proxy": "", "LEAF_TEST_SP_SECRET": "not-a-real-secret",
           "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com"}
    assert "LEAFCTL_AZURE_TRANSPORT" not in os.environ  # leaf_env cleared it: the production client
    return env


@pytest.mark.parametrize("proxy", ["refused", "http://proxy.invalid:3128"])
def test_network_failure_is_exit_1_cannot_reach_azure(exe, proxy):
    _config(_AZURE_PROFILE)
    url = f"http://127.0.0.1:{_closed_port()}" if proxy == "refused" else proxy
    r = exe("workspace", "show", env=_offline(url), timeout=180)
    assert_error(r, 1, "cannot reach Azure (", "login.microsoftonline.com", "check the network or proxy")
    _one_error_line(r)
    assert "check tenant_id" not in r.stderr and "sign in" not in r.stderr, r
    assert "not-a-real-secret" not in r.stderr + r.stdout


def test_direct_connection_failure_names_the_host(tmp_path):
    """No proxy: the host that did not answer is the Azure host itself (a real azure-core request to a
    closed local port, mapped by leafctl's error translation)."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import RetryPolicy
    from azure.core.rest import HttpRequest

    from leafctl.backends.azure.errors import translate

    port = _closed_port()
    client = PipelineClient(f"http://127.0.0.1:{port}", policies=[RetryPolicy(retry_total=0)])
    try:
        client.send_request(HttpRequest("GET", f"http://127.0.0.1:{port}/subscriptions"))
    except Exception as e:  # noqa: BLE001  (whatever azure-core raises is what translate gets)
        mapped = translate(e)
    else:
        pytest.fail("a closed port answered")
    assert mapped is not None and mapped.exit_code == 1, mapped
    assert f"cannot reach Azure (127.0.0.1:{port}): connection refused" in mapped.what
    assert mapped.hint == "check the network or proxy"


def test_rejected_credential_stays_a_sign_in_error():
    """An answer from the sign-in service (no network failure in the chain) is still exit 4."""
    from azure.core.exceptions import ClientAuthenticationError

    from leafctl.backends.azure.errors import translate

    mapped = translate(ClientAuthenticationError("AADSTS7000215: Invalid client secret provided."), "service-principal")
    assert mapped is not None and mapped.exit_code == 4 and "check tenant_id" in mapped.hint
