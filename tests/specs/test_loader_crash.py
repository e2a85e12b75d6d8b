"""A spec that makes azure-ai-ml's loader crash (an AttributeError or TypeError inside its marshmallow
schemas, where it should have refused the value) is a usage error: exit 2, naming the field."""

from __future__ import annotations

import pytest
from leaftest import assert_error

# (spec body, the field the error must name); both crash inside azure-ai-ml 1.35's loader.
CRASHING = [
    ("services:\n  a: 1\n", "services.a"),
    ("outputs:\n  o: 5\n", "outputs.o"),
]
HEAD = "command: echo hi\nenvironment:\n  image: python:latest\n"


@pytest.mark.parametrize("body,field", CRASHING)
def test_loader_crash_is_exit_2_naming_the_field(cli, tmp_path, body, field):
    spec = tmp_path / "job.yml"
    spec.write_text(HEAD + body)
    for dry in ([], ["--dry-run"]):  # the submission validates with the SDK; a dry run defers to it here
        r = cli("run", "submit", "-f", str(spec), *dry)
        assert_error(r, 2, field, str(spec))
        assert "unexpected" not in r.stderr, r.stderr


def test_the_crash_is_the_sdks_own():
    """The loader itself raises (not a ValidationError) on these: what the conversion above is for."""
    import io

    from azure.ai.ml import load_job

    for body, _ in CRASHING:
        with pytest.raises((AttributeError, TypeError)):
            load_job(io.StringIO(HEAD + body))
