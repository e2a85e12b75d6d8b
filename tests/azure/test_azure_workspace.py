"""workspace show/list/create/delete on Azure through the CLI."""

from __future__ import annotations

import pytest
from azure_helpers import assert_error, calls


@pytest.fixture
def arm_everywhere(fake, monkeypatch):
    """azure-ai-ml submits a workspace's ARM template through a client of its own (ArmDeploymentExecutor builds a
    ResourceManagementClient without the MLClient's transport): route that client's HTTP to the fake too."""
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


def test_show_and_list(azure, fake):
    r = azure("workspace", "show", "-o", "json")
    assert r.code == 0, r
    ws = r.json()
    assert ws == {**ws, "name": "leaf-ws", "backend": "azure", "location": "centralus", "resource_group": "leaf-rg",
                  "subscription_id": fake.subscription}
    assert ws["id"].endswith("/providers/Microsoft.MachineLearningServices/workspaces/leaf-ws")
    fake.add_workspace("second-ws")
    assert sorted(azure("workspace", "list", "-o", "json", "--query", "[].name").json()) == ["leaf-ws", "second-ws"]


def test_show_missing_exit_3(azure, fake):
    assert_error(azure("workspace", "show", "ghost"), 3, "ghost")


def test_create_existing_is_idempotent(azure, fake):
    r = azure("workspace", "create", "leaf-ws", "--location", "centralus", "-o", "json")
    assert r.code == 0 and r.json()["name"] == "leaf-ws", r
    assert calls(fake, "PUT", "/deployments/") == 0
    assert_error(azure("workspace", "create", "leaf-ws", "--fail-if-exists"), 5, "leaf-ws")


def test_create_through_arm_template_and_delete(azure, arm_everywhere):
    fake = arm_everywhere
    r = azure("workspace", "create", "aml", "--location", "centralus", "-o", "json")
    assert r.code == 0, r
    assert r.json() == {**r.json(), "name": "aml", "location": "centralus", "resource_group": "leaf-rg"}
    assert calls(fake, "PUT", "/providers/Microsoft.Resources/deployments/") == 1
    assert fake.get(fake.ws_id("aml") + "/datastores/workspaceblobstore") is not None
    assert azure("workspace", "delete", "aml", "--yes").code == 0
    assert fake.get(fake.ws_id("aml")) is None
    assert_error(azure("workspace", "delete", "aml", "--yes"), 3, "aml")
