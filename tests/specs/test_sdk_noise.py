"""Issue 8 item 5: azure-ai-ml's noise never reaches the user.

azure-ai-ml logs "Class X: This is an experimental class ...", "Field 'x': This is an experimental field ..."
and "Warning: the provided asset name 'n' will not be used for anonymous registration" through loggers whose
parent ("azure.ai.ml") gets its own stderr handler when azure.ai.ml is first imported. Every spec below goes
through the real ``leafctl`` executable (a fresh process each time: the SDK warns once per process) with
``--dry-run``, valid and invalid, on a local profile and on an azure profile (the fake control plane), with
``-v``; and with ``-vv``, which shows the SDK's logs on purpose but still never these lines.

The specs are corpus specs (az ml v2 YAML from the azure-ai-ml docs and examples) and variants of them that
set the experimental fields (``services``, ``queue_settings``, ``auto_delete_setting``,
``intellectual_property``), name an inline environment (the anonymous-registration warning) or break a field
(the invalid-spec path, where the noise used to leak before the error line).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from leaftest import leafctl_executable

CORPUS = Path(__file__).parent / "corpus"
AZURE_TESTS = Path(__file__).resolve().parent.parent / "azure"
if str(AZURE_TESTS) not in sys.path:
    sys.path.insert(0, str(AZURE_TESTS))
import fake_arm  # noqa: E402

COMMANDS = {
    "job": ["run", "submit"],
    "compute": ["compute", "create"],
    "data": ["data", "create"],
    "model": ["model", "register"],
    "environment": ["env", "create"],
    "batch_endpoint": ["endpoint", "create"],
    "batch_deployment": ["endpoint", "deployment", "create"],
}

AUTO_DELETE = {"condition": "created_greater_than", "value": "30d"}
# (kind, corpus spec, changes to its top-level fields (None removes one), valid?)
CASES = [
    ("job", "hello-interactive.yml", {}, True),                                    # services (experimental)
    ("job", "serverless.yml", {}, True),                                           # queue_settings (experimental)
    ("job", "hello-interactive.yml",                                               # named inline environment
     {"environment": {"name": "my-env", "image": "library/python:latest"}}, True),
    ("job", "serverless.yml", {"queue_settings": {"job_tier": "bogus"}, "bogus_field": 1}, False),
    ("job", "hello-interactive.yml", {"services": {"my_jupyter": {"type": "jupyter_lab", "nodes": "many"}},
                                      "command": None}, False),
    ("batch_deployment", "heart-classifier-mlflow.yml", {}, True),
    ("batch_deployment", "heart-classifier-mlflow.yml", {"mini_batch_size": "lots", "bogus_field": 1}, False),
    ("data", "auto-delete.yml", {}, True),
    ("data", "auto-delete.yml", {"auto_delete_setting": {"condition": "bogus", "value": "30d"}}, False),
    ("environment", "auto-delete.yml", {"intellectual_property": {"publisher": "contoso",
                                                                  "protection_level": "all"}}, True),
    ("environment", "auto-delete.yml", {"auto_delete_setting": AUTO_DELETE, "image": None, "bogus_field": 1}, False),
    ("compute", "instance-idle-shutdown.yml", {}, True),
    ("compute", "instance-idle-shutdown.yml", {"idle_time_before_shutdown_minutes": "soon"}, False),
    ("model", "local-mlflow.yml", {}, True),
    ("model", "local-mlflow.yml", {"type": "bogus_model"}, False),
    ("batch_endpoint", "heart-classifier-batch.yml", {}, True),
]


def _case_id(case) -> str:
    kind, spec, changes, valid = case
    return f"{kind}/{spec}{'+' + '+'.join(sorted(changes)) if changes else ''}-{'valid' if valid else 'invalid'}"


def _spec(tmp_path: Path, kind: str, name: str, changes: dict) -> tuple[Path, dict[str, str]]:
    """The corpus folder of ``kind`` copied (specs reference files next to them), the spec changed; and the
    env vars its `# leafctl:` first line asks for."""
    work = tmp_path / kind
    if not work.exists():
        shutil.copytree(CORPUS / kind, work)
    text = (CORPUS / kind / name).read_text(encoding="utf-8")
    env: dict[str, str] = {}
    first = text.splitlines()[:1]
    if first and first[0].startswith("# leafctl:"):
        env.update(item.partition("=")[::2] for item in first[0].split(":", 1)[1].split())
    doc = yaml.safe_load(text)
    for k, v in changes.items():
        if v is None:
            doc.pop(k, None)
        else:
            doc[k] = v
    spec = work / f"noise-{len(list(work.glob('noise-*')))}-{name}"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return spec, env


@pytest.fixture
def profiles(leaf_env, tmp_path):
    """profile name -> the environment a leafctl process needs for it ("local", or "azure" on the fake
    control plane through the transport hook)."""
    cfg = Path(os.environ["LEAFCTL_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(f'current_profile = "local"\n\n[profiles.local]\nbackend = "local"\n\n'
                   f'[profiles.az]\nbackend = "azure"\nsubscription_id = "{fake_arm.SUB}"\n'
                   f'resource_group = "{fake_arm.RG}"\nworkspace = "{fake_arm.WS}"\n'
                   f'location = "{fake_arm.LOCATION}"\nauth = "default"\n')
    cfg.chmod(0o600)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "MSI_", "IDENTITY_"))}
    return {
        "local": base,
        "az": {**base, "LEAFCTL_AZURE_TRANSPORT": "fake_arm:factory",
               "LEAFCTL_FAKE_ARM_STATE": str(tmp_path / "arm.json"),
               "PYTHONPATH": str(AZURE_TESTS) + os.pathsep + os.environ.get("PYTHONPATH", "")},
    }


def _leafctl(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([leafctl_executable(), *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=180)


NOISE = ("This is an experimental", "will not be used for anonymous registration")


def _check(r: subprocess.CompletedProcess, valid: bool, strict: bool) -> None:
    if valid:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert [ln for ln in r.stderr.splitlines() if ln.startswith("error:")], r.stderr
    for text in (r.stdout, r.stderr):
        for noise in NOISE:
            assert noise.lower() not in text.lower(), text
    if strict:  # without -vv nothing of the SDK's shows at all
        low = r.stderr.lower()
        assert "experimental" not in low and "anonymous" not in low, r.stderr


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
@pytest.mark.parametrize(("profile", "verbose"), [("local", ()), ("az", ("-v",))])
def test_no_sdk_noise_on_stderr(case, profile, verbose, profiles, tmp_path):
    kind, name, changes, valid = case
    spec, extra = _spec(tmp_path, kind, name, changes)
    r = _leafctl({**profiles[profile], **extra}, spec.parent, *verbose, "-p", profile, *COMMANDS[kind],
                 "-f", str(spec), "--dry-run", "-o", "yaml")
    _check(r, valid, strict=True)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in ("job", "data", "environment")],
                         ids=[_case_id(c) for c in CASES if c[0] in ("job", "data", "environment")])
def test_vv_shows_sdk_logs_but_never_the_noise(case, profiles, tmp_path):
    """-vv turns the SDK's logging on (redacted); the experimental/anonymous-registration lines stay out."""
    kind, name, changes, valid = case
    spec, extra = _spec(tmp_path, kind, name, changes)
    r = _leafctl({**profiles["local"], **extra}, spec.parent, "-vv", *COMMANDS[kind], "-f", str(spec),
                 "--dry-run", "-o", "yaml")
    _check(r, valid, strict=False)


def test_in_process_loads_stay_quiet(capfd):
    """The library path (specs.load) too: a spec loaded in this process, whatever imported azure.ai.ml
    first, logs none of the noise to the real stderr."""
    from leafctl.specs.load import load

    spec = CORPUS / "job" / "serverless.yml"
    load("job", spec)
    import logging

    logging.getLogger("azure.ai.ml._utils._experimental").warning("Class Y: This is an experimental class, x")
    logging.getLogger("azure.ai.ml._schema.assets.asset").warning(
        "Warning: the provided asset name 'n' will not be used for anonymous registration.")
    err = capfd.readouterr().err
    for noise in NOISE:
        assert noise not in err, err
