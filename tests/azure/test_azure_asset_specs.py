"""The asset kinds' az ml v2 specs on Azure (issue 8, item 4 and its share of item 1): what the fake control plane
receives carries every field the spec gives — compute (cluster and instance extras, the ssh password resolved from
its env:NAME only here), datastores (description, tags, endpoint), data (mltable folders, datastore paths,
auto_delete_setting), models (`model register -f`: stage, properties, flavors, explicit version, triton, datastore
paths, job outputs), environments (`build:` as a BuildContext whose folder leafctl uploads itself) and workspaces
(`workspace create -f` through azure-ai-ml's ARM template). The specs are the corpus ones (tests/specs/corpus)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from azure_helpers import assert_error, calls

CORPUS = Path(__file__).resolve().parents[1] / "specs" / "corpus"


@pytest.fixture
def corpus(tmp_path):
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


def _stored(fake, path: str) -> dict:
    res = fake.get(fake.ws_id("leaf-ws") + path)
    assert res is not None, path
    return res


# ----- compute -----

def test_cluster_spec_fields_reach_azure(azure, fake, corpus):
    r = azure("compute", "create", "-f", str(corpus / "compute" / "cluster-vnet.yml"), "-o", "json")
    assert r.code == 0, r
    res = _stored(fake, "/computes/vnet-example")
    props = res["properties"]["properties"]
    assert res["tags"] == {"team": "research"} and res["properties"]["description"].startswith("A cluster in a virtual")
    assert props["subnet"]["id"].endswith("/virtualNetworks/my-vnet/subnets/my-subnet")
    assert (props["enableNodePublicIp"], props["remoteLoginPortPublicAccess"]) == (False, "Disabled")
    assert props["scaleSettings"] == {"minNodeCount": 0, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT10M"}
    assert "no effect on the local backend" not in r.stderr
    assert r.json()["extra"]["tags"] == {"team": "research"}

    assert azure("compute", "create", "-f", str(corpus / "compute" / "cluster-location.yml")).code == 0
    assert _stored(fake, "/computes/location-example")["location"] == "westus"
    assert azure("compute", "create", "-f", str(corpus / "compute" / "cluster-user-identity.yml")).code == 0
    assert _stored(fake, "/computes/basic-example")["identity"]["type"] == "UserAssigned"


def test_cluster_ssh_password_is_resolved_only_for_the_request(azure, fake, corpus, monkeypatch):
    monkeypatch.setenv("SSH_PASSWORD", "s3cret-pw-from-env")
    spec = corpus / "compute" / "cluster-ssh-password.yml"
    dry = azure("compute", "create", "-f", str(spec), "--dry-run", "-o", "json")
    assert dry.json()["ssh_settings"]["admin_password"] == "env:SSH_PASSWORD" and fake.calls == []
    r = azure("compute", "create", "-f", str(spec), "-o", "json")
    assert r.code == 0, r
    creds = _stored(fake, "/computes/ssh-example")["properties"]["properties"]["userAccountCredentials"]
    assert creds == {"adminUserName": "example-user", "adminUserPassword": "s3cret-pw-from-env"}
    assert "s3cret-pw-from-env" not in r.stdout + r.stderr


def test_instance_spec_fields_reach_azure(azure, fake, corpus):
    r = azure("compute", "create", "-f", str(corpus / "compute" / "instance-customized.yml"), "-o", "json")
    assert r.code == 0, r
    props = _stored(fake, "/computes/custom-example-i")["properties"]["properties"]
    assert props["personalComputeInstanceSettings"]["assignedUser"]["objectId"] == "11111111-1111-1111-1111-111111111111"
    assert props["setupScripts"]["scripts"]["creationScript"]["scriptData"] == "Users/example/setup.sh"
    assert props["customServices"][0]["name"] == "rstudio-workbench"
    assert (props["enableSSO"], props["enableRootAccess"], props["enableOSPatching"], props["releaseQuotaOnStop"]) == \
        (True, False, True, True)
    assert props["idleTimeBeforeShutdown"] == "PT60M"
    assert props["sshSettings"]["adminPublicKey"].startswith("ssh-rsa ")
    assert azure("compute", "create", "-f", str(corpus / "compute" / "instance-schedule.yml")).code == 0
    sched = _stored(fake, "/computes/basic-example-i")["properties"]["properties"]["schedules"]
    assert sched["computeStartStop"][0]["action"].lower() == "stop"


def test_instance_location_is_refused(azure, fake, corpus, tmp_path):
    spec = tmp_path / "ci.yml"
    spec.write_text((corpus / "compute" / "instance-basic.yml").read_text() + "location: westus\n")
    assert_error(azure("compute", "create", "-f", str(spec)), 2, "location", "workspace's region")
    assert calls(fake, "PUT", "/computes/") == 0


# ----- datastores -----

def test_datastore_spec_fields_reach_azure(azure, fake, corpus):
    r = azure("data", "store", "create", "-f", str(corpus / "datastore" / "blob-sovereign-cloud.yml"), "-o", "json")
    assert r.code == 0, r
    props = _stored(fake, "/datastores/blob_china_example")["properties"]
    assert (props["endpoint"], props["tags"], props["protocol"]) == ("core.chinacloudapi.cn", {"cloud": "china"}, "https")
    assert props["description"].startswith("Credential-less datastore")
    assert r.json()["tags"] == {"cloud": "china"}


# ----- data -----

def test_data_spec_fields_reach_azure(azure, fake, corpus):
    assert azure("data", "create", "-f", str(corpus / "data" / "auto-delete.yml")).code == 0
    props = _stored(fake, "/data/scratch-features/versions/3")["properties"]
    assert props["autoDeleteSetting"] == {"condition": "createdGreaterThan", "value": "30d"}
    assert props["tags"] == {"stage": "intermediate"} and props["dataType"] == "uri_folder"
    r = azure("data", "create", "-f", str(corpus / "data" / "iris-datastore.yml"), "-o", "json")
    assert r.code == 0, r
    assert r.json()["path"] == "azureml://datastores/azuremlexamples/paths/datasets/iris.csv"
    assert azure("data", "create", "-f", str(corpus / "data" / "cloud-mltable.yml")).code == 0
    assert _stored(fake, "/data/cloud-mltable/versions/1")["properties"]["dataType"] == "mltable"


@pytest.mark.azurite
def test_local_mltable_folder_is_uploaded(azure_blob, fake, corpus):
    r = azure_blob("data", "create", "-f", str(corpus / "data" / "local-mltable.yml"), "-o", "json")
    assert r.code == 0, r
    props = _stored(fake, "/data/local-mltable-example-titanic/versions/1")["properties"]
    assert props["dataType"] == "mltable" and "/LocalUpload/data/local-mltable-example-titanic/" in props["dataUri"]
    assert props["referencedUris"] == ["./titanic.csv"]  # read from the local MLTable, not back from storage
    files = {e["path"].rsplit("/", 1)[-1] for e in azure_blob("data", "ls", r.json()["path"], "-o", "json").json()}
    assert files == {"MLTable", "titanic.csv"}


def test_data_import_spec_is_refused_before_any_request(azure, fake, tmp_path):
    spec = tmp_path / "s3-import.yml"  # azureml-examples cli/assets/data/s3-import.yml
    spec.write_text("$schema: http://azureml/sdk-2-0/DataImport.json\ntype: uri_folder\nname: s3_sample\n"
                    "source:\n  type: file_system\n  path: myfiles/titanic.csv\n  connection: azureml:my_s3_connection\n"
                    "path: azureml://datastores/workspaceblobstore/paths/s3/${{name}}\n")
    assert_error(azure("data", "create", "-f", str(spec)), 2, "data import specs are not supported")
    assert calls(fake, "PUT", "/data/") == 0


# ----- models -----

@pytest.mark.azurite
def test_model_register_spec_fields_reach_azure(azure_blob, fake, corpus):
    r = azure_blob("model", "register", "-f", str(corpus / "model" / "staged-mlflow.yml"), "-o", "json")
    assert r.code == 0, r
    props = _stored(fake, "/models/credit-defaults-model/versions/2")["properties"]
    assert (props["modelType"], props["stage"]) == ("mlflow_model", "Production")
    assert props["properties"] == {"training_run": "a57c2e43-4dcd-4188-944a-839bcba35331"}
    assert "0.24.1" in json.dumps(props["flavors"]["sklearn"]), props["flavors"]
    assert props["tags"] == {"framework": "sklearn", "accuracy": "0.81"}
    assert r.json()["version"] == "2" and r.json()["extra"]["stage"] == "Production"
    t = azure_blob("model", "register", "-f", str(corpus / "model" / "triton.yml"), "-o", "json")
    assert t.code == 0 and t.json()["type"] == "triton", t
    assert _stored(fake, "/models/densenet-onnx-model/versions/1")["properties"]["modelType"] == "triton_model"


def test_model_register_datastore_path_and_job_output(azure, fake, corpus):
    r = azure("model", "register", "-f", str(corpus / "model" / "lightgbm-iris-datastore.yml"), "-o", "json")
    assert r.code == 0, r
    props = _stored(fake, "/models/lightgbm-iris-example/versions/1")["properties"]
    assert props["modelUri"].endswith("/datastores/azuremlexamples/paths/datasets/iris.csv")
    assert calls(fake, "PUT", "/models/lightgbm-iris-example/versions/1") == 1
    dry = azure("model", "register", "-f", str(corpus / "model" / "job-output.yml"), "--dry-run", "-o", "json")
    assert dry.code == 0 and dry.json()["path"] == "azureml://jobs/leaf-run-1/outputs/artifacts/paths/model/", dry
    assert_error(azure("model", "register", "-f", str(corpus / "model" / "job-output.yml")), 3, "leaf-run-1")


# ----- environments -----

@pytest.mark.azurite
def test_environment_build_context_is_a_build_context_on_azure(azure_blob, fake, corpus):
    r = azure_blob("env", "create", "-f", str(corpus / "environment" / "docker-context-dockerfile.yml"), "-o", "json")
    assert r.code == 0, r
    props = _stored(fake, "/environments/docker-context-dockerfile-example/versions/2")["properties"]
    build = props["build"]
    assert build["dockerfilePath"] == "Dockerfile" and props.get("image") is None
    assert build["contextUri"].startswith("azureml://datastores/workspaceblobstore/paths/LocalUpload/environments/")
    assert props["osType"].lower() == "linux" and props["tags"] == {"built": "from-context"}
    files = {e["path"].rsplit("/", 1)[-1] for e in azure_blob("data", "ls", build["contextUri"], "-o", "json").json()}
    assert files == {"Dockerfile", "requirements.txt"}
    assert "no effect" not in r.stderr


def test_environment_inference_config_reaches_azure(azure, fake, corpus):
    assert azure("env", "create", "-f", str(corpus / "environment" / "inference.yml")).code == 0
    props = _stored(fake, "/environments/triton-serving-example/versions/1")["properties"]
    assert props["inferenceConfig"]["livenessRoute"] == {"port": 8000, "path": "/v2/health/live"}
    assert azure("env", "create", "-f", str(corpus / "environment" / "docker-image-plus-conda.yml")).code == 0
    conda = _stored(fake, "/environments/docker-image-plus-conda-example/versions/1")["properties"]["condaFile"]
    assert "pydata-example" in conda


# ----- workspaces -----

@pytest.fixture
def arm_everywhere(fake, monkeypatch):
    """azure-ai-ml submits a workspace's ARM template through a client of its own: route it to the fake too."""
    import requests
    from requests.adapters import HTTPAdapter

    import fake_arm

    real_send = HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        if requests.utils.urlparse(request.url).hostname == fake_arm.ARM:
            return fake_arm.FakeAdapter(fake_arm.FAKE).send(request)
        return real_send(self, request, *args, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", send)
    return fake


def _template_params(fake) -> dict:
    (dep,) = fake.deployments.values()
    return {k: (v or {}).get("value") for k, v in dep["properties"]["parameters"].items()}


def test_workspace_create_from_a_spec(azure, arm_everywhere, corpus):
    fake = arm_everywhere
    spec = corpus / "workspace" / "with-existing-resources.yml"
    dry = azure("workspace", "create", "-f", str(spec), "--set", "hbi_workspace=true", "--dry-run", "-o", "json")
    assert dry.code == 0 and dry.json()["hbi_workspace"] is True and fake.calls == [], dry
    r = azure("workspace", "create", "-f", str(spec), "--set", "hbi_workspace=true", "-o", "json")
    assert r.code == 0, r
    assert (r.json()["name"], r.json()["location"]) == ("mlw-basicex-prod", "eastus")
    params = _template_params(fake)
    flat = json.dumps(params)
    assert params["workspaceName"] == "mlw-basicex-prod" and params["location"] == "eastus"
    assert params["tagValues"]["purpose"] == "demonstration"
    assert "leafstorage" in flat and "leafkv" in flat and "leafacr" in flat and "leafai" in flat
    assert params.get("confidential_data") in ("true", True), params
    assert "Bring your own dependent resources-example" in flat  # display_name (friendlyName)
