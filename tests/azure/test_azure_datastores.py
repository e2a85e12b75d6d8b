"""data store on Azure: blob with an account key or a SAS token, ADLS Gen2 with a service principal.

Secrets reach the service only from env: references; literals are refused (exit 2) and never echoed.
"""

from __future__ import annotations

from azure_helpers import assert_error

SECRET = "c2VjcmV0LWtleS12YWx1ZQ=="


def _ds(fake, name):
    return fake.get(fake.ws_id("leaf-ws") + f"/datastores/{name}")


def test_default_datastore_and_list(azure, fake):
    r = azure("data", "store", "show", "-o", "json")
    assert r.code == 0, r
    assert r.json()["name"] == "workspaceblobstore" and r.json()["is_default"] is True
    assert r.json()["type"] == "azure_blob" and r.json()["credential"] == "account_key"
    names = azure("data", "store", "list", "-o", "json", "--query", "[].name").json()
    assert "workspaceblobstore" in names


def test_blob_with_account_key_from_env(azure, fake, monkeypatch):
    monkeypatch.setenv("LEAF_KEY", SECRET)
    r = azure("data", "store", "create", "leaf_data", "--type", "azure_blob", "--account-name", "leafstore",
              "--container-name", "leaf-data", "--account-key", "env:LEAF_KEY", "-o", "json")
    assert r.code == 0, r
    assert r.json() == {**r.json(), "name": "leaf_data", "type": "azure_blob", "account_name": "leafstore",
                        "container_name": "leaf-data", "credential": "account_key", "is_default": False}
    assert SECRET not in r.stdout + r.stderr
    assert fake.secrets["leaf_data"] == {"secretsType": "AccountKey", "key": SECRET}  # the secret reached the service
    assert _ds(fake, "leaf_data")["properties"]["credentials"]["credentialsType"] == "AccountKey"
    # Same spec again: fine (get-or-create); a different container: conflict.
    again = azure("data", "store", "create", "leaf_data", "--type", "azure_blob", "--account-name", "leafstore",
                  "--container-name", "leaf-data", "--account-key", "env:LEAF_KEY", "-o", "json")
    assert again.code == 0, again
    assert_error(azure("data", "store", "create", "leaf_data", "--type", "azure_blob", "--account-name", "leafstore",
                       "--container-name", "other", "--account-key", "env:LEAF_KEY"), 5, "leaf_data")


def test_blob_with_sas_token(azure, fake, monkeypatch):
    monkeypatch.setenv("LEAF_SAS", "sv=2025-11-05&sig=abc")
    r = azure("data", "store", "create", "leaf_sas", "--type", "azure_blob", "--account-name", "leafstore",
              "--container-name", "leaf-data", "--sas-token", "env:LEAF_SAS", "-o", "json")
    assert r.code == 0, r
    assert r.json()["credential"] == "sas"
    assert fake.secrets["leaf_sas"]["sasToken"] == "sv=2025-11-05&sig=abc"


def test_adls_gen2_with_service_principal_from_yaml(azure, fake, monkeypatch, tmp_path):
    monkeypatch.setenv("SP_PASSWORD", "sp-secret-value")
    spec = tmp_path / "adls.yml"
    spec.write_text("name: adls_fs1\ntype: azure_data_lake_gen2\naccount_name: leafadls\nfilesystem: fs1\n"
                    "credentials:\n  tenant_id: 11111111-1111-1111-1111-111111111111\n"
                    "  client_id: 22222222-2222-2222-2222-222222222222\n  client_secret: env:SP_PASSWORD\n")
    r = azure("data", "store", "create", "-f", str(spec), "-o", "json")
    assert r.code == 0, r
    assert r.json() == {**r.json(), "name": "adls_fs1", "type": "azure_data_lake_gen2", "container_name": "fs1",
                        "credential": "service_principal"}
    stored = _ds(fake, "adls_fs1")["properties"]
    assert stored["datastoreType"] == "AzureDataLakeGen2" and stored["filesystem"] == "fs1"
    assert stored["credentials"]["clientId"] == "22222222-2222-2222-2222-222222222222"
    assert fake.secrets["adls_fs1"]["clientSecret"] == "sp-secret-value"
    assert "sp-secret-value" not in r.stdout + r.stderr


def test_literal_secret_refused(azure, fake):
    r = azure("data", "store", "create", "bad", "--type", "azure_blob", "--account-name", "a", "--container-name", "c",
              "--account-key", "literal-key-value")
    assert_error(r, 2, "env:")
    assert "literal-key-value" not in r.stdout + r.stderr
    assert _ds(fake, "bad") is None


def test_missing_env_variable_is_usage_error(azure, fake, monkeypatch):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    assert_error(azure("data", "store", "create", "bad", "--type", "azure_blob", "--account-name", "a",
                       "--container-name", "c", "--account-key", "env:NOPE_KEY"), 2, "NOPE_KEY")


def test_delete(azure, fake, monkeypatch):
    monkeypatch.setenv("LEAF_KEY", SECRET)
    assert azure("data", "store", "create", "gone", "--type", "azure_blob", "--account-name", "a", "--container-name", "c",
                 "--account-key", "env:LEAF_KEY").code == 0
    r = azure("data", "store", "delete", "gone", "--yes")
    assert r.code == 0, r
    assert _ds(fake, "gone") is None
    assert_error(azure("data", "store", "show", "gone"), 3, "gone")
    assert_error(azure("data", "store", "delete", "workspaceblobstore", "--yes"), 2, "default")
