"""The one rule for every `-f` command: each field azure-ai-ml's schema accepts for a kind leafctl claims is
carried or refused by name, never dropped in silence.

1. Every schema field is classified in ``leafctl.specs.fields.FIELDS`` (a new SDK field fails here).
2. Every spec in ``corpus/<kind>/`` (written the way az ml users write them) goes through the real
   ``leafctl ... -f SPEC --dry-run -o yaml``; the printed spec, read back by azure-ai-ml's own loader, is an
   entity equal to the one loaded from the original file: nothing was dropped or changed.
3. Every carried field appears in at least one corpus spec of its kind, so (2) really covers it.
4. Every refused field, set in a spec, is refused with exit 2 and one line naming it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from leafctl.specs import fields
from leaftest import leafctl_executable

CORPUS = Path(__file__).parent / "corpus"
KINDS = sorted(fields.SCHEMAS)
# kind -> the command that reads `-f SPEC --dry-run` for it
COMMANDS = {
    "job": ["run", "submit"],
    "compute": ["compute", "create"],
    "datastore": ["data", "store", "create"],
    "data": ["data", "create"],
    "model": ["model", "register"],
    "environment": ["env", "create"],
    "batch_endpoint": ["endpoint", "create"],
    "batch_deployment": ["endpoint", "deployment", "create"],
    "workspace": ["workspace", "create"],
}
# A spec file may hold a leading comment `# leafctl: KEY=VALUE ...` for what it needs around it (env vars).


def _specs(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).glob("*.yml"))


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([leafctl_executable(), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def _env(leaf_env: Path, spec: Path) -> dict[str, str]:
    env = dict(os.environ)
    first = spec.read_text(encoding="utf-8").splitlines()[:1]
    if first and first[0].startswith("# leafctl:"):
        for item in first[0].split(":", 1)[1].split():
            k, _, v = item.partition("=")
            env[k] = v
    return env


def _loaded(kind: str, path: Path) -> dict:
    from leafctl.specs.load import load

    return load(kind, path)._to_dict()


@pytest.mark.parametrize("kind", KINDS)
def test_every_schema_field_is_carried_or_refused(kind):
    table = fields.table(kind)
    missing = sorted(fields.schema_fields(kind) - set(table))
    stale = sorted(set(table) - fields.schema_fields(kind))
    assert not missing, f"{kind}: schema fields neither carried nor refused: {missing}"
    assert not stale, f"{kind}: fields listed that the schema does not have: {stale}"
    for name, why in table.items():
        assert why == fields.CARRY or (isinstance(why, str) and len(why) > 10), (kind, name, why)


@pytest.mark.parametrize("kind", KINDS)
def test_corpus_covers_every_carried_field(kind):
    seen: set[str] = set()
    for spec in _specs(kind):
        seen |= set(yaml.safe_load(spec.read_text(encoding="utf-8")) or {})
    carried = {k for k, v in fields.table(kind).items() if v == fields.CARRY}
    assert not carried - seen, f"{kind}: carried fields no corpus spec sets: {sorted(carried - seen)}"


def _corpus_cases():
    return [pytest.param(kind, spec, id=f"{kind}/{spec.name}") for kind in KINDS for spec in _specs(kind)]


def _norm(value, base: Path):
    """Relative local paths as absolute ones (a printed spec may give the resolved path): equal entities
    then compare equal wherever the two files sit."""
    if isinstance(value, dict):
        return {k: _norm(v, base) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v, base) for v in value]
    if isinstance(value, str) and value and "://" not in value:
        # azure-ai-ml dumps a model input's local path as "azureml:<path>": normalise the path behind it too
        prefix = "azureml:" if value.startswith("azureml:") else ""
        p = Path(value[len(prefix):].removeprefix("file:"))
        if (base / p).exists():
            return prefix + str((base / p).resolve())
    return value


@pytest.mark.parametrize(("kind", "spec"), _corpus_cases())
def test_dry_run_round_trips_to_an_equal_entity(kind, spec, leaf_env, tmp_path):
    import shutil

    work = tmp_path / "corpus"
    shutil.copytree(spec.parent, work)
    original = work / spec.name
    r = _run([*COMMANDS[kind], "-f", str(original), "--dry-run", "-o", "yaml"], _env(leaf_env, spec), work)
    assert r.returncode == 0, r.stderr
    assert "experimental" not in r.stderr.lower(), r.stderr
    printed = work / f"printed-{spec.name}"
    printed.write_text(r.stdout, encoding="utf-8")
    assert _norm(_loaded(kind, printed), work) == _norm(_loaded(kind, original), work)


def _refused_cases():
    return [pytest.param(kind, name, id=f"{kind}.{name}") for kind in KINDS
            for name, why in fields.table(kind).items() if why != fields.CARRY]


@pytest.mark.parametrize(("kind", "field"), _refused_cases())
def test_refused_fields_are_named(kind, field, leaf_env, tmp_path):
    base = _specs(kind)
    assert base, f"{kind}: no corpus spec to start from"
    doc = yaml.safe_load(base[0].read_text(encoding="utf-8"))
    doc[field] = doc.get(field) or "x"
    spec = tmp_path / "refused.yml"
    spec.write_text(yaml.safe_dump(doc), encoding="utf-8")
    r = _run([*COMMANDS[kind], "-f", str(spec), "--dry-run"], _env(leaf_env, base[0]), base[0].parent)
    assert r.returncode == 2, (r.returncode, r.stderr)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and field in errors[0], r.stderr
