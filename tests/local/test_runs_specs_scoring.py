"""Job spec checks (leafctl.specs), job YAML through the loaders, and pandas-free batch scoring helpers, in-process."""

from __future__ import annotations

import pytest

from leafctl import specs
from leafctl.backends.base import JobSpec
from leafctl.backends.local import batch_score
from leafctl.errors import UsageError


def test_placeholders_and_substitution():
    spec = JobSpec(command="run ${{ inputs.data }} ${{outputs.model}}", inputs={"data": "x"}, outputs={"model": None})
    specs.check_command(spec)
    assert specs.substitute(spec.command, {"inputs.data": "/d", "outputs.model": "/m"}) == "run /d /m"
    with pytest.raises(UsageError, match=r"inputs\.other"):
        specs.check_command(JobSpec(command="${{inputs.other}}", inputs={"data": "x"}))
    with pytest.raises(UsageError, match="search_space"):
        specs.check_command(JobSpec(command="${{search_space.lr}}"))
    with pytest.raises(UsageError, match="name"):
        specs.check_command(JobSpec(command="true", inputs={"bad-name": "x"}))


def test_job_yaml_set_overrides_through_the_loader(tmp_path):
    """-f job.yml is read by azure-ai-ml's load_job: dotted --set keys reach nested fields, values are YAML
    scalars, a job without an environment still validates (a local run needs none)."""
    from leafctl.specs.job import job_from_file
    from leafctl.specs.load import parse_sets

    (tmp_path / "a").mkdir()
    (tmp_path / "job.yml").write_text("type: command\ncommand: echo ${{inputs.data}}\ninputs:\n  data: ./a\ntags: {}\n")
    spec = job_from_file(tmp_path / "job.yml", ["inputs.data.mode=ro_mount", "tags.n=3", "compute=azureml:gpu",
                                                "environment_variables.X=1", "environment_variables.ON=true"])
    assert spec.inputs == {"data": str((tmp_path / "a").resolve())}
    assert spec.compute == "gpu" and spec.tags == {"n": "3"} and spec.env_vars == {"X": "1", "ON": "true"}
    assert spec.environment is None
    with pytest.raises(UsageError, match="key=value"):
        parse_sets(["novalue"])


def test_model_refs_and_redaction():
    assert specs.parse_model_ref("azureml:m:3") == ("m", "3")
    assert specs.parse_model_ref("m@latest") == ("m", None)
    assert specs.parse_model_ref("m") == ("m", None)
    with pytest.raises(UsageError):
        specs.parse_model_ref("m@prod")
    assert specs.redact_env("DB_PASSWORD", "hunter2") == "<redacted>"
    assert specs.redact_env("DB_PASSWORD", "env:PW") == "env:PW"
    assert specs.redact_env("MODE", "fast") == "fast"


def test_table_and_prediction_shapes(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("x,label\n1,a\n2.5,b\n")
    t = batch_score.read_table(f)
    if isinstance(t, batch_score.Table):  # pandas absent: the dict-of-columns adapter
        assert t.columns == ["x", "label"] and len(t) == 2 and t["x"] == [1.0, 2.5] and t.shape == (2, 2)
    assert batch_score.columns_of([1, 2], 2) == {"prediction": [1, 2]}
    assert batch_score.columns_of([[1, 2], [3, 4]], 2) == {"prediction_0": [1, 3], "prediction_1": [2, 4]}
    assert batch_score.columns_of({"a": (1, 2)}, 2) == {"a": [1, 2]}
    with pytest.raises(batch_score.ScoringError, match="3 predictions for 2"):
        batch_score.columns_of([1, 2, 3], 2)

    class Esp:  # the shape of leafctl's ESP pyfunc model: a pandas-free prescribe_columns
        def prescribe_columns(self, columns):
            return ["x", "act"], [[x, x * 10] for x in columns["x"]]

    table = batch_score.Table({"x": [1.0, 2.0]})
    assert batch_score.predict(Esp(), table) == {"x": [1.0, 2.0], "act": [10.0, 20.0]}


def test_mlmodel_lookup_and_refusals(tmp_path):
    (tmp_path / "m" / "inner").mkdir(parents=True)
    (tmp_path / "m" / "inner" / "MLmodel").write_text("flavors: {python_function: {loader_module: mlflow.pyfunc.model}}\n")
    assert batch_score.find_mlmodel(tmp_path / "m") == tmp_path / "m" / "inner"
    with pytest.raises(batch_score.ScoringError, match="needs mlflow"):
        batch_score.load_model(tmp_path / "m")
    (tmp_path / "empty").mkdir()
    with pytest.raises(batch_score.ScoringError, match="no MLmodel"):
        batch_score.find_mlmodel(tmp_path / "empty")
    assert batch_score.main(["a"]) == 2
    assert batch_score.main([str(tmp_path / "empty"), str(tmp_path), str(tmp_path / "o")]) == 1


def test_literal_inputs_are_carried(tmp_path):
    # issue 8: literal inputs (bare, or the typed {type, value|default} form) are carried, no longer refused
    from leafctl.specs.job import job_from_file

    for value, want in (("10", 10), ("{type: integer, value: 10}", 10), ("{type: string, value: x}", "x")):
        (tmp_path / "job.yml").write_text(f"command: echo ${{{{inputs.n}}}}\ninputs:\n  n: {value}\n")
        spec = job_from_file(tmp_path / "job.yml")
        assert spec.literals == {"n": want} and spec.inputs == {}
