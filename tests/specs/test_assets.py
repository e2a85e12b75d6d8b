"""The asset kinds' az ml v2 specs on the local backend and in --dry-run (issue 8, item 4 and its share of item 1):
compute, datastore, data (mltable; data import refused), model (model register -f), environment (build:),
workspace (workspace create -f). Every spec here is a corpus spec (tests/specs/corpus/<kind>/, taken from
azureml-examples); the Azure side of the same specs is tests/azure/test_azure_asset_specs.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from leaftest import assert_error

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def corpus(tmp_path):
    """A copy of the corpus (specs and the files they name), so relative paths resolve next to them."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


def _dry(cli, *args):
    r = cli(*args, "--dry-run", "-o", "yaml")
    assert r.code == 0, r
    return yaml.safe_load(r.stdout)


# ----- compute -----

def test_compute_spec_extras_are_carried_recorded_and_noted(cli, corpus):
    spec = corpus / "compute" / "cluster-vnet.yml"
    doc = _dry(cli, "compute", "create", "-f", str(spec))
    assert doc["network_settings"] == {"vnet_name": "my-vnet", "subnet": "my-subnet"}
    assert (doc["enable_node_public_ip"], doc["ssh_public_access_enabled"]) == (False, False)
    assert doc["tags"] == {"team": "research"} and doc["description"].startswith("A cluster in a virtual network")
    assert (doc["max_instances"], doc["idle_time_before_scale_down"]) == (4, 600)

    r = cli("compute", "create", "-f", str(spec), "-o", "json")
    assert r.code == 0, r
    c = r.json()
    assert (c["type"], c["max_nodes"], c["idle_seconds"]) == ("cluster", 4, 600)
    assert c["extra"]["network_settings"] == {"vnet_name": "my-vnet", "subnet": "my-subnet"}
    assert c["extra"]["tags"] == {"team": "research"}
    notes = [ln for ln in r.stderr.splitlines() if "no effect on the local backend" in ln]
    assert len(notes) == 1 and "network_settings" in notes[0] and "enable_node_public_ip" in notes[0], r.stderr
    assert "tags" not in notes[0]  # tags mean something locally: shown with the compute
    shown = cli("compute", "show", "vnet-example", "-o", "json").json()
    assert shown["extra"]["enable_node_public_ip"] is False
    assert cli("compute", "create", "-f", str(spec)).code == 0  # the same spec again: get-or-create
    assert_error(cli("compute", "create", "-f", str(spec), "--set", "location=westus"), 5, "location")


def test_compute_instance_spec_fields_are_carried(cli, corpus):
    doc = _dry(cli, "compute", "create", "-f", str(corpus / "compute" / "instance-customized.yml"))
    assert doc["setup_scripts"]["creation_script"] == {"path": "Users/example/setup.sh", "timeout_minutes": 15}
    assert doc["custom_applications"][0]["name"] == "rstudio-workbench"
    assert doc["create_on_behalf_of"]["user_object_id"] == "11111111-1111-1111-1111-111111111111"
    assert (doc["enable_sso"], doc["enable_root_access"], doc["idle_time_before_shutdown_minutes"]) == (True, False, 60)
    doc = _dry(cli, "compute", "create", "-f", str(corpus / "compute" / "instance-schedule.yml"))
    assert doc["schedules"]["compute_start_stop"][0]["action"] == "stop"
    made = cli("compute", "create", "-f", str(corpus / "compute" / "instance-customized.yml"), "-o", "json").json()
    assert (made["type"], made["idle_seconds"]) == ("instance", 3600)


def test_compute_ssh_password_is_a_reference(cli, corpus, tmp_path):
    spec = corpus / "compute" / "cluster-ssh-password.yml"
    doc = _dry(cli, "compute", "create", "-f", str(spec))
    assert doc["ssh_settings"] == {"admin_username": "example-user", "admin_password": "env:SSH_PASSWORD"}
    literal = tmp_path / "literal.yml"
    literal.write_text(spec.read_text().replace("env:SSH_PASSWORD", "hunter2-literal"))
    r = cli("compute", "create", "-f", str(literal), "--dry-run")
    assert_error(r, 2, "admin_password", "literal secret")
    assert "hunter2-literal" not in r.stdout + r.stderr


def test_compute_resource_id_is_refused_by_name(cli, corpus, tmp_path):
    spec = tmp_path / "attach.yml"
    spec.write_text((corpus / "compute" / "cluster-basic.yml").read_text() + "resource_id: /subscriptions/x/vm\n")
    assert_error(cli("compute", "create", "-f", str(spec), "--dry-run"), 2, "resource_id", "attach")


# ----- datastore -----

def test_datastore_spec_description_tags_endpoint_are_carried(cli, corpus):
    spec = corpus / "datastore" / "blob-sovereign-cloud.yml"
    doc = _dry(cli, "data", "store", "create", "-f", str(spec))
    assert (doc["endpoint"], doc["tags"], doc["type"]) == ("core.chinacloudapi.cn", {"cloud": "china"}, "azure_blob")
    made = cli("data", "store", "create", "-f", str(spec), "-o", "json").json()
    assert made["description"].startswith("Credential-less datastore") and made["tags"] == {"cloud": "china"}
    assert cli("data", "store", "show", "blob_china_example", "-o", "json").json()["endpoint"] == "core.chinacloudapi.cn"
    doc = _dry(cli, "data", "store", "create", "-f", str(corpus / "datastore" / "blob.yml"))
    assert doc["credentials"] == {"account_key": "env:STORAGE_KEY"}  # a reference, never the secret


# ----- data -----

def test_mltable_asset_is_a_folder_and_a_job_input_path(cli, corpus):
    spec = corpus / "data" / "local-mltable.yml"
    doc = _dry(cli, "data", "create", "-f", str(spec))
    assert doc["type"] == "mltable" and doc["path"] == str((corpus / "data" / "local-mltable").resolve())
    r = cli("data", "create", "-f", str(spec), "-o", "json")
    assert r.code == 0, r
    asset = r.json()
    assert (asset["name"], asset["version"], asset["type"]) == ("local-mltable-example-titanic", "1", "mltable")
    run = cli("run", "submit", "--command", "cat ${{inputs.table}}/MLTable && head -1 ${{inputs.table}}/titanic.csv",
              "--input", "table=azureml:local-mltable-example-titanic:1", "--wait", "-o", "json")
    assert run.code == 0, run
    assert run.json()["status"] == "Completed"
    logs = cli("run", "logs", run.json()["id"]).stdout
    assert "read_delimited" in logs and "PassengerId,Survived" in logs


def test_mltable_needs_an_mltable_file(cli, corpus, tmp_path):
    spec = tmp_path / "no-mltable.yml"
    spec.write_text((corpus / "data" / "local-mltable.yml").read_text().replace("./local-mltable",
                                                                                 str(corpus / "data" / "sample-data")))
    assert_error(cli("data", "create", "-f", str(spec)), 2, "MLTable")


def test_data_import_spec_is_refused_by_name(cli, tmp_path):
    spec = tmp_path / "azure-sql-import.yml"  # azureml-examples cli/assets/data/azure-sql-import.yml
    spec.write_text("$schema: http://azureml/sdk-2-0/DataImport.json\n"
                    "type: mltable\nname: azuresql_sample\nsource:\n  type: database\n  query: select * from my_table\n"
                    "  connection: azureml:my_sqldb_connection\n"
                    "path: azureml://datastores/workspaceblobstore/paths/azuresql/${{name}}\n")
    for args in (["--dry-run"], []):
        assert_error(cli("data", "create", "-f", str(spec), *args), 2, "data import specs are not supported", "source")
    assert cli("data", "list", "-o", "json").json() == []
    spec.write_text(spec.read_text().replace("type: database\n  query: select * from my_table", "type: file_system\n  path: myfiles/titanic.csv"))
    assert_error(cli("data", "create", "-f", str(spec)), 2, "data import specs are not supported", "file_system")


def test_data_spec_datastore_path_and_extras(cli, corpus, leaf_env):
    shared = leaf_env / "shared"
    (shared / "datasets").mkdir(parents=True)
    (shared / "datasets" / "iris.csv").write_text("a,b\n1,2\n")
    assert cli("data", "store", "create", "azuremlexamples", "--path", str(shared)).code == 0
    r = cli("data", "create", "-f", str(corpus / "data" / "iris-datastore.yml"), "-o", "json")
    assert r.code == 0, r
    assert (r.json()["path"], r.json()["version"]) == ("azureml://datastores/azuremlexamples/paths/datasets/iris.csv", "1")
    doc = _dry(cli, "data", "create", "-f", str(corpus / "data" / "auto-delete.yml"))
    assert doc["auto_delete_setting"] == {"condition": "created_greater_than", "value": "30d"}


# ----- model -----

def test_model_register_from_a_local_path_with_set_and_dry_run(cli, corpus):
    spec = corpus / "model" / "staged-mlflow.yml"
    doc = _dry(cli, "model", "register", "-f", str(spec), "--set", "stage=Archived")
    assert (doc["type"], doc["stage"], doc["version"]) == ("mlflow_model", "Archived", "2")
    assert doc["path"] == str((corpus / "model" / "mlflow-model").resolve())
    assert doc["flavors"]["sklearn"] == {"sklearn_version": "0.24.1"}
    assert cli("model", "list", "-o", "json").json() == []  # the dry run registered nothing
    r = cli("model", "register", "-f", str(spec), "--tag", "owner=leaf", "-o", "json")
    assert r.code == 0, r
    m = r.json()
    assert (m["name"], m["version"], m["type"]) == ("credit-defaults-model", "2", "mlflow")
    assert m["tags"] == {"framework": "sklearn", "accuracy": "0.81", "owner": "leaf"}
    assert m["extra"]["stage"] == "Production" and m["extra"]["properties"] == {"training_run": "a57c2e43-4dcd-4188-944a-839bcba35331"}
    assert (Path(m["path"]) / "MLmodel").is_file()
    assert_error(cli("model", "register", "-f", str(spec)), 5, "already exists")  # an explicit version is kept
    t = cli("model", "register", "-f", str(corpus / "model" / "triton.yml"), "-o", "json")
    assert t.code == 0 and t.json()["type"] == "triton", t
    assert (Path(t.json()["path"]) / "densenet_onnx" / "config.pbtxt").is_file()


def test_model_register_from_a_job_output(cli, tmp_path):
    run = cli("run", "submit", "--command", "mkdir -p ${{outputs.model}} && echo weights > ${{outputs.model}}/w.bin",
              "--output", "model", "--wait", "-o", "json")
    assert run.code == 0 and run.json()["status"] == "Completed", run
    rid = run.json()["id"]
    spec = tmp_path / "from-job.yml"  # as azureml-examples register a job's output
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
                    f"name: run-model\npath: azureml://jobs/{rid}/outputs/model\ntype: custom_model\n"
                    "description: Model from a job output.\n")
    doc = _dry(cli, "model", "register", "-f", str(spec))
    assert doc["path"] == f"azureml://jobs/{rid}/outputs/model"
    m = cli("model", "register", "-f", str(spec), "-o", "json")
    assert m.code == 0, m
    assert (m.json()["run_id"], m.json()["description"]) == (rid, "Model from a job output.")
    assert (Path(m.json()["path"]) / "w.bin").read_text() == "weights\n"


def test_model_register_from_a_datastore_path(cli, corpus, leaf_env):
    src = leaf_env / "m.pkl"
    src.write_text("model")
    assert cli("data", "upload", str(src), "--path", "models/m.pkl").code == 0
    spec = leaf_env / "ds-model.yml"
    spec.write_text("$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\nname: ds-model\n"
                    "path: azureml://datastores/workspaceblobstore/paths/models/m.pkl\n")
    r = cli("model", "register", "-f", str(spec), "-o", "json")
    assert r.code == 0, r
    assert (Path(r.json()["path"]) / "m.pkl").read_text() == "model"


def test_model_refused_fields_are_named(cli, corpus, tmp_path):
    spec = tmp_path / "templated.yml"
    spec.write_text((corpus / "model" / "local-mlflow.yml").read_text() + "default_deployment_template:\n  asset_id: x\n")
    assert_error(cli("model", "register", "-f", str(spec), "--dry-run"), 2, "default_deployment_template")


# ----- environment -----

def test_environment_build_context_is_recorded_with_a_note(cli, corpus):
    spec = corpus / "environment" / "docker-context-dockerfile.yml"
    doc = _dry(cli, "env", "create", "-f", str(spec))
    context = str((corpus / "environment" / "docker-contexts" / "python-and-pip").resolve())
    assert doc["build"] == {"path": context, "dockerfile_path": "Dockerfile"}
    assert (doc["os_type"], doc["version"], doc["tags"]) == ("linux", "2", {"built": "from-context"})
    r = cli("env", "create", "-f", str(spec), "-o", "json")
    assert r.code == 0, r
    assert r.json()["extra"]["build"] == {"path": context, "dockerfile_path": "Dockerfile"}
    notes = [ln for ln in r.stderr.splitlines() if "no effect on the local backend" in ln]
    assert len(notes) == 1 and "build" in notes[0] and "current Python" in notes[0], r.stderr
    assert cli("env", "show", "docker-context-dockerfile-example:2", "-o", "json").json()["extra"]["os_type"] == "linux"


def test_environment_inference_config_and_conda_file(cli, corpus):
    doc = _dry(cli, "env", "create", "-f", str(corpus / "environment" / "inference.yml"))
    assert doc["inference_config"]["liveness_route"] == {"port": 8000, "path": "/v2/health/live"}
    doc = _dry(cli, "env", "create", "-f", str(corpus / "environment" / "docker-image-plus-conda.yml"))
    assert doc["conda_file"]["name"] == "pydata-example"  # the file's contents, inline


# ----- workspace -----

def test_workspace_create_from_a_spec(cli, corpus):
    spec = corpus / "workspace" / "hbi.yml"
    doc = _dry(cli, "workspace", "create", "-f", str(spec), "--set", "tags.owner=leaf")
    assert (doc["name"], doc["location"], doc["hbi_workspace"]) == ("mlw-hbiexample-prod", "eastus", True)
    assert doc["tags"] == {"purpose": "demonstration", "owner": "leaf"}
    assert "mlw-hbiexample-prod" not in cli("workspace", "list", "-q", "[].name", "-o", "json").json()
    r = cli("workspace", "create", "-f", str(spec), "-o", "json")
    assert r.code == 0, r
    ws = r.json()
    assert (ws["name"], ws["location"], ws["backend"]) == ("mlw-hbiexample-prod", "eastus", "local")
    assert Path(ws["path"]).is_dir()
    assert ws["extra"]["display_name"] == "High business impact-example" and ws["extra"]["hbi_workspace"] is True
    assert "hbi_workspace" in r.stderr and "no effect on the local backend" in r.stderr
    assert cli("workspace", "show", "mlw-hbiexample-prod", "-o", "json").json()["extra"]["tags"] == {"purpose": "demonstration"}


def test_workspace_refused_fields_are_named(cli, corpus, tmp_path):
    spec = tmp_path / "project.yml"
    spec.write_text((corpus / "workspace" / "basic.yml").read_text()
                    + "workspace_hub: /subscriptions/x/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/hub\n")
    assert_error(cli("workspace", "create", "-f", str(spec)), 2, "workspace_hub")


def test_data_spec_with_a_cloud_url_is_recorded_as_written(cli, corpus, tmp_path):
    # azureml-examples cli/assets/data/cloud-file-https.yml, and the wasbs:// / abfss:// forms: --dry-run and the
    # real create agree; nothing is copied; a local run using the asset is refused clearly.
    url = "https://azuremlexamples.blob.core.windows.net/datasets/iris.csv"
    spec = corpus / "data" / "iris-url.yml"
    assert _dry(cli, "data", "create", "-f", str(spec))["path"] == url
    r = cli("data", "create", "-f", str(spec), "-o", "json")
    assert r.code == 0, r
    assert r.json()["path"] == url and r.json()["version"] == "1"
    notes = [ln for ln in r.stderr.splitlines() if "cloud URL" in ln]
    assert len(notes) == 1 and url in notes[0], r.stderr
    assert cli("data", "show", "iris-url-example", "-o", "json").json()["path"] == url
    for n, u in enumerate(["wasbs://datasets@azuremlexamples.blob.core.windows.net/iris.csv",
                           "abfss://data@acct.dfs.core.windows.net/folder/"]):
        f = tmp_path / f"cloud{n}.yml"
        f.write_text(yaml.safe_dump({"name": f"cloud{n}", "type": "uri_folder", "path": u}), encoding="utf-8")
        assert _dry(cli, "data", "create", "-f", str(f))["path"] == u
        r = cli("data", "create", "-f", str(f), "-o", "json")
        assert r.code == 0 and r.json()["path"] == u, r
    r = cli("run", "submit", "--command", "cat ${{inputs.d}}", "--input", "d=azureml:iris-url-example:1",
            "--compute", "local", "--wait")
    assert_error(r, 2, "d", url, "not a path this backend can read")
