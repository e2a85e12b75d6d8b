"""An in-memory Azure Resource Manager + Azure ML data plane, for driving the real azure-ai-ml code.

leafctl's test hook (see ``leafctl.backends.azure.client``): with ``LEAFCTL_AZURE_TRANSPORT=fake_arm:factory``
the Azure backend builds ``MLClient(credential, sub, rg, ws, transport=..., polling_interval=0)`` from
``factory()``, so every REST call azure-ai-ml makes lands in ``FAKE.handle(...)`` below. Nothing is mocked
above the HTTP layer: azure-ai-ml serialises, polls and deserialises exactly as it does against Azure.

API (for tests and for extending it, e.g. jobs and run history):

    FAKE                      the module-level instance the hook serves (conftest resets it per test)
    fake.route(method, regex) decorator adding a handler ``fn(fake, req, match) -> Reply | None``;
                              regex is matched (re.search) against ``host + path`` (no query); routes
                              added later win; returning None falls through to the next route
    fake.resources            dict: lower-cased ARM id -> resource JSON (the generic ARM store)
    fake.put(id, body)        store a resource as a PUT would (returns the stored JSON)
    fake.get(id)              the stored resource or None
    fake.children(parent_id)  resources directly under a collection id, oldest first
    fake.fail(status, times=1, method=None, match=None, body=None)
                              fault injection: the next ``times`` requests whose method/URL match get
                              ``status`` instead of being served (429/500 -> azure-core retries)
    fake.auth_error = "..."   make the fake credential raise ClientAuthenticationError(message)
    fake.calls                list of (method, url) served, for assertions
    fake.persist(path)        share state through a JSON file with leafctl subprocesses (the hook does this
                              when LEAFCTL_FAKE_ARM_STATE is set); faults and auth_error stay in-process
    fake.secrets              datastore name -> secrets JSON returned by ``listSecrets``
    fake.blob_account / blob_key / blob_endpoint / blob_protocol
                              the storage account behind the default datastore ``workspaceblobstore``
                              (Azurite's well-known devstoreaccount1 by default)
    Reply(status, body=None, headers=None)

Generic ARM behaviour: PUT stores (and answers 201 + ``Azure-AsyncOperation`` for long-running types:
workspaces, computes, batch endpoints and deployments; the operation status URL answers Succeeded);
PATCH merges; GET returns a resource or lists a collection (``value``, with ``$orderBy/orderBy`` by
createdtime, ``$top/top``, ``isDefault``, ``listViewType`` filters); DELETE removes (202 + Location).
Versioned assets (``.../<kind>/<name>/versions/<v>``) keep a container with ``latestVersion`` and
``nextVersion``. Special routes: workspace discovery, datastore ``listSecrets``, compute
``start``/``stop``/``restart``, ``locations/<loc>/vmSizes``, batch endpoint invocation (creates a
pipeline job under ``jobs`` with a ``score`` output, as Azure ML does; fake_jobs.py moves it along and
scores its input), workspace ``listKeys``.
"""

from __future__ import annotations

import copy
import io
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import requests
import urllib3
from requests.adapters import BaseAdapter, HTTPAdapter

SUB = "00000000-0000-0000-0000-000000000000"
RG = "leaf-rg"
WS = "leaf-ws"
LOCATION = "centralus"
ARM = "management.azure.com"
API = f"{LOCATION}.api.azureml.ms"
NS = "Microsoft.MachineLearningServices"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

# Resource types whose PUT/DELETE are long-running operations on Azure.
LRO_TYPES = {"workspaces", "computes", "batchendpoints", "deployments", "onlineendpoints"}
VERSIONED = {"models", "data", "environments", "codes", "components"}


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    url: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Fault:
    status: int
    times: int
    method: str | None
    match: str | None
    body: Any


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


class FakeAzureML:
    def __init__(self, subscription: str = SUB, resource_group: str = RG, workspace: str = WS, location: str = LOCATION):
        self.subscription, self.resource_group, self.location = subscription, resource_group, location
        self.resources: dict[str, dict] = {}
        self.secrets: dict[str, dict] = {}
        self.routes: list[tuple[str, re.Pattern, Callable]] = []
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str]] = []
        self.operations: dict[str, dict] = {}
        self.auth_error: str | None = None
        self.blob_account, self.blob_key = AZURITE_ACCOUNT, AZURITE_KEY
        self.blob_endpoint, self.blob_protocol = "core.windows.net", "https"
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self.deployments: dict[str, dict] = {}
        _install_routes(self)
        _install_deployment_routes(self)
        if workspace:
            self.add_workspace(workspace)

    # ----- ids and the generic store -----
    def rg_id(self, rg: str | None = None) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{rg or self.resource_group}"

    def ws_id(self, ws: str, rg: str | None = None) -> str:
        return f"{self.rg_id(rg)}/providers/{NS}/workspaces/{ws}"

    def get(self, rid: str) -> dict | None:
        r = self.resources.get(rid.lower().rstrip("/"))
        return copy.deepcopy(r) if r is not None else None

    def children(self, parent: str) -> list[dict]:
        parent = parent.lower().rstrip("/")
        out = [r for k, r in self.resources.items() if k.rsplit("/", 1)[0] == parent]
        return sorted(out, key=lambda r: r["_seq"])

    def put(self, rid: str, body: dict, *, merge: bool = False) -> dict:
        with self._lock:
            key = rid.lower().rstrip("/")
            old = self.resources.get(key)
            segs = _provider_segments(rid)
            kind = segs[-2].lower() if len(segs) >= 2 else ""
            if merge and old is not None:
                res = _merge(copy.deepcopy(old), body)
            else:
                res = copy.deepcopy(body) if body else {}
            res["id"] = rid
            res["name"] = rid.rsplit("/", 1)[1]
            res["type"] = f"{NS}/" + "/".join(segs[0::2])
            now = _now()
            created = (old or {}).get("systemData", {}).get("createdAt", now)
            res["systemData"] = {"createdAt": created, "createdBy": "fake@leafctl", "createdByType": "User",
                                 "lastModifiedAt": now, "lastModifiedBy": "fake@leafctl", "lastModifiedByType": "User"}
            res["_seq"] = (old or {}).get("_seq", next(self._seq))
            props = res.setdefault("properties", {})
            if kind in LRO_TYPES:
                props["provisioningState"] = "Succeeded"
            hook = getattr(self, f"_on_put_{kind}", None)
            if hook:
                hook(rid, res, old)
            self.resources[key] = res
            if kind == "versions" and len(segs) >= 4 and segs[-4].lower() in VERSIONED:
                self._bump_container(rid.rsplit("/", 2)[0], res["name"])
            return copy.deepcopy(res)

    def delete(self, rid: str) -> bool:
        with self._lock:
            key = rid.lower().rstrip("/")
            if key not in self.resources:
                return False
            for k in [k for k in self.resources if k == key or k.startswith(key + "/")]:
                del self.resources[k]
            return True

    def _bump_container(self, container_id: str, version: str) -> None:
        cont = self.resources.get(container_id.lower())
        if cont is None:
            cont = self.put(container_id, {"properties": {}})
            cont = self.resources[container_id.lower()]
        props = cont.setdefault("properties", {})
        props["latestVersion"] = version
        nxt = int(props.get("nextVersion") or 1)
        if version.isdigit():
            nxt = max(nxt, int(version) + 1)
        props["nextVersion"] = str(nxt)

    # ----- hooks that give resources what Azure adds -----
    def _on_put_workspaces(self, rid: str, res: dict, old: dict | None) -> None:
        name = res["name"]
        res.setdefault("location", self.location)
        res.setdefault("identity", {"type": "SystemAssigned", "principalId": str(uuid.uuid4()), "tenantId": str(uuid.uuid4())})
        p = res["properties"]
        p.setdefault("workspaceId", str(uuid.uuid4()))
        p.setdefault("friendlyName", name)
        p["discoveryUrl"] = f"https://{API}/discovery"
        p["mlFlowTrackingUri"] = f"azureml://{API}/mlflow/v1.0{rid}"
        sa = f"{self.rg_id()}/providers/Microsoft.Storage/storageAccounts/{self.blob_account}"
        p.setdefault("storageAccount", sa)
        p.setdefault("keyVault", f"{self.rg_id()}/providers/Microsoft.KeyVault/vaults/kv{name}")
        p.setdefault("applicationInsights", f"{self.rg_id()}/providers/Microsoft.insights/components/ai{name}")

    def _on_put_computes(self, rid: str, res: dict, old: dict | None) -> None:
        res.setdefault("location", self.location)
        p = res["properties"]
        inner = p.setdefault("properties", {}) or {}
        p["properties"] = inner
        p.setdefault("createdOn", _now())
        if p.get("computeType") == "ComputeInstance":
            inner.setdefault("state", (old or {}).get("properties", {}).get("properties", {}).get("state", "Running"))
        elif p.get("computeType") == "AmlCompute":
            inner.setdefault("allocationState", "Steady")
            inner.setdefault("currentNodeCount", 0)

    def _on_put_datastores(self, rid: str, res: dict, old: dict | None) -> None:
        creds = res["properties"].get("credentials") or {}
        secrets = creds.pop("secrets", None)
        if secrets:
            self.secrets[res["name"].lower()] = secrets
        res["properties"].setdefault("isDefault", False)

    def _on_put_versions(self, rid: str, res: dict, old: dict | None) -> None:
        kind = _provider_segments(rid)[-4].lower()
        p = res["properties"]
        p.setdefault("isArchived", False)
        p.setdefault("isAnonymous", False)
        p.setdefault("properties", {})
        p.setdefault("tags", {})
        if kind == "models":
            p.setdefault("flavors", {"python_function": {"data": {"loader_module": "mlflow.pyfunc"}}}
                         if p.get("modelType") == "mlflow_model" else {})
            p.setdefault("stage", "Development")
        if kind == "environments":
            p.setdefault("osType", "Linux")
            p.setdefault("environmentType", "UserCreated")

    def _on_put_batchendpoints(self, rid: str, res: dict, old: dict | None) -> None:
        res.setdefault("location", self.location)
        name = res["name"]
        res["properties"]["scoringUri"] = f"https://{name}.{self.location}.inference.ml.azure.com/jobs"
        res["properties"]["swaggerUri"] = f"https://{name}.{self.location}.inference.ml.azure.com/swagger.json"
        res["properties"].setdefault("defaults", {})

    def _on_put_deployments(self, rid: str, res: dict, old: dict | None) -> None:
        res.setdefault("location", self.location)

    def add_workspace(self, name: str, rg: str | None = None) -> dict:
        ws = self.put(self.ws_id(name, rg), {"location": self.location, "properties": {"friendlyName": name}, "sku": {"name": "Basic", "tier": "Basic"}})
        self._add_default_datastore(ws["id"])
        return ws

    def _add_default_datastore(self, ws_id: str) -> None:
        for name, container, default in (("workspaceblobstore", "azureml-blobstore", True),
                                         ("workspaceartifactstore", "azureml", False)):
            self.put(f"{ws_id}/datastores/{name}", {"properties": {
                "datastoreType": "AzureBlob", "accountName": self.blob_account, "containerName": container,
                "endpoint": self.blob_endpoint, "protocol": self.blob_protocol, "isDefault": default,
                "credentials": {"credentialsType": "AccountKey", "secrets": {"secretsType": "AccountKey", "key": self.blob_key}},
                "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity"}})

    # ----- routing -----
    def route(self, method: str, pattern: str) -> Callable:
        def deco(fn: Callable) -> Callable:
            self.routes.insert(0, (method.upper(), re.compile(pattern, re.I), fn))
            return fn
        return deco

    def fail(self, status: int, times: int = 1, method: str | None = None, match: str | None = None, body: Any = None) -> None:
        self.faults.append(Fault(status, times, method.upper() if method else None, match, body))

    def _fault_for(self, req: Request) -> Reply | None:
        for f in self.faults:
            if f.times <= 0:
                continue
            if f.method and f.method != req.method:
                continue
            if f.match and not re.search(f.match, req.url, re.I):
                continue
            f.times -= 1
            codes = {401: "AuthenticationFailed", 403: "AuthorizationFailed", 404: "ResourceNotFound", 409: "Conflict",
                     429: "TooManyRequests", 500: "InternalServerError", 503: "ServiceUnavailable"}
            body = f.body or {"error": {"code": codes.get(f.status, "Error"), "message": f"injected fault {f.status}"}}
            headers = {"Retry-After": "0"} if f.status in (429, 503) else {}
            return Reply(f.status, body, headers)
        return None

    # ----- sharing state with leafctl subprocesses -----
    STATE_KEYS = ("resources", "secrets", "operations", "deployments", "calls")

    def persist(self, path: str) -> None:
        """Keep the state in a JSON file, read before and written after every request, so leafctl processes
        started by a test (``LEAFCTL_FAKE_ARM_STATE=<path>``) and the test itself see one control plane."""
        self.state_file = path
        import os

        if os.path.exists(path):
            self._load()
        else:
            self._save()

    def _load(self) -> None:
        with open(self.state_file) as f:
            doc = json.load(f)
        for k in self.STATE_KEYS:
            setattr(self, k, doc[k] if k != "calls" else [tuple(c) for c in doc[k]])
        self._seq = itertools.count(doc["seq"])

    def _save(self) -> None:
        import os

        seq = next(self._seq)
        self._seq = itertools.count(seq)
        doc = {k: getattr(self, k) for k in self.STATE_KEYS}
        doc["seq"] = seq
        tmp = f"{self.state_file}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, self.state_file)

    def handle(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        if getattr(self, "state_file", None):
            import fcntl

            with open(self.state_file + ".lock", "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                self._load()
                try:
                    return self._handle(method, url, headers, body)
                finally:
                    self._save()
        return self._handle(method, url, headers, body)

    def _handle(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        req = Request(method.upper(), url, parts.netloc.lower(), parts.path, query, dict(headers), body or b"")
        with self._lock:
            self.calls.append((req.method, url))
            fault = self._fault_for(req)
            if fault:
                return fault
            target = req.host + req.path
            for m, pattern, fn in self.routes:
                if m not in (req.method, "*"):
                    continue
                match = pattern.search(target)
                if match:
                    reply = fn(self, req, match)
                    if reply is not None:
                        return reply
            return _error(404, "NoRoute", f"the fake has no route for {req.method} {req.host}{req.path}")

    # ----- wiring into azure-core -----
    def session(self) -> requests.Session:
        s = requests.Session()
        adapter = FakeAdapter(self)
        s.mount("https://", adapter)
        s.mount("http://", adapter)
        return s

    def transport(self):
        from azure.core.pipeline.transport import RequestsTransport

        return RequestsTransport(session=self.session(), session_owner=False)

    def credential(self) -> "FakeCredential":
        return FakeCredential(self)

    def lro(self, final: dict | None = None, status: str = "Succeeded") -> dict[str, str]:
        """Headers for a long-running operation whose status endpoint answers ``status``."""
        op = uuid.uuid4().hex
        self.operations[op] = {"status": status, "result": final}
        base = f"https://{ARM}/subscriptions/{self.subscription}/providers/{NS}/locations/{self.location}"
        return {"Azure-AsyncOperation": f"{base}/mfeOperationsStatus/{op}?api-version=2023-10-01",
                "Location": f"{base}/mfeOperationResults/{op}?api-version=2023-10-01", "Retry-After": "0"}


class FakeAdapter(BaseAdapter):
    def __init__(self, fake: FakeAzureML):
        super().__init__()
        self.fake = fake

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        reply = self.fake.handle(request.method, request.url, dict(request.headers), body)
        if reply.body is None:
            data = b""
        elif isinstance(reply.body, (bytes, bytearray)):
            data = bytes(reply.body)
        else:
            data = json.dumps(_public(reply.body)).encode()
        headers = {"Content-Length": str(len(data)), "x-ms-request-id": str(uuid.uuid4()), **reply.headers}
        if data and "Content-Type" not in headers:
            headers["Content-Type"] = "application/json; charset=utf-8"
        raw = urllib3.HTTPResponse(body=io.BytesIO(data), headers=headers, status=reply.status, reason=_REASONS.get(reply.status, "OK"),
                                   preload_content=False, decode_content=False)
        return HTTPAdapter().build_response(request, raw)

    def close(self) -> None:
        pass


_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error"}


class FakeCredential:
    """A TokenCredential that never leaves the machine (DefaultAzureCredential would probe IMDS)."""

    def __init__(self, fake: FakeAzureML):
        self.fake = fake

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        if self.fake.auth_error:
            from azure.core.exceptions import ClientAuthenticationError

            raise ClientAuthenticationError(self.fake.auth_error)
        # Shaped like a real (unsigned) JWT with the scope's audience: azure-ai-ml decodes the AML token a job
        # with `identity: user_identity` is submitted with.
        import base64
        import json as _json

        def part(d: dict) -> str:
            return base64.urlsafe_b64encode(_json.dumps(d).encode()).decode().rstrip("=")

        aud = (scopes[0] if scopes else "").removesuffix("/.default")
        return AccessToken(f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'aud': aud, 'sub': 'fake'})}.ZmFrZQ",
                           int(time.time()) + 3600 * 24)


def _public(obj: Any) -> Any:
    """Drop the store's private keys (``_seq``) from a reply."""
    if isinstance(obj, dict):
        return {k: _public(v) for k, v in obj.items() if not k.startswith("_")}
    if isinstance(obj, list):
        return [_public(v) for v in obj]
    return obj


def _merge(dst: dict, src: dict) -> dict:
    for k, v in (src or {}).items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _merge(dst[k], v)
        elif v is None:
            dst.pop(k, None)
        else:
            dst[k] = v
    return dst


def _provider_segments(path: str) -> list[str]:
    """The type/name segments after the provider namespace: ['workspaces', 'ws', 'models', 'm']."""
    low = path.lower()
    marker = f"/providers/{NS.lower()}/"
    i = low.find(marker)
    if i < 0:
        return []
    return [s for s in path[i + len(marker):].split("/") if s]


# ----- default routes -----

def _install_routes(fake: FakeAzureML) -> None:
    prov = r"management\.azure\.com(?P<id>/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.MachineLearningServices/(?P<rest>.+?))/?$"

    @fake.route("*", prov)
    def arm_generic(f: FakeAzureML, req: Request, m: re.Match) -> Reply | None:
        rid, segs = m.group("id"), [s for s in m.group("rest").split("/") if s]
        if len(segs) % 2 == 0:
            return _resource(f, req, rid, segs)
        if req.method == "GET":
            return _collection(f, req, rid, segs)
        if req.method == "POST":
            return _action(f, req, rid.rsplit("/", 1)[0], segs[-1])
        return None

    @fake.route("GET", r"management\.azure\.com/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices/workspaces$")
    def list_ws_sub(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        items = [r for k, r in f.resources.items() if re.search(r"/workspaces/[^/]+$", k)]
        return Reply(200, {"value": sorted(items, key=lambda r: r["_seq"])})

    @fake.route("GET", r"management\.azure\.com/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices/locations/[^/]+/(mfeOperationsStatus|mfeOperationResults|workspaceOperationsStatus)/(?P<op>[^/]+)$")
    def op_status(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        op = f.operations.get(m.group("op"))
        if op is None:
            return _error(404, "OperationNotFound", "no such operation")
        if "Results" in m.group(1):
            return Reply(200, op["result"]) if op["result"] is not None else Reply(204)
        body = {"id": m.group("op"), "name": m.group("op"), "status": op["status"], "startTime": _now(), "endTime": _now()}
        if op["status"] == "Failed":
            body["error"] = {"code": "Failed", "message": "the operation failed"}
        return Reply(200, body)

    @fake.route("GET", r"management\.azure\.com/subscriptions/[^/]+/providers/Microsoft\.MachineLearningServices/locations/(?P<loc>[^/]+)/vmSizes$")
    def vm_sizes(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        return Reply(200, {"value": VM_SIZES})

    @fake.route("GET", r"\.api\.azureml\.ms/discovery$")
    def discovery(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        base = f"https://{API}"
        return Reply(200, {"api": base, "catalog": base, "experimentation": base, "history": base, "hyperdrive": base,
                           "labeling": base, "modelmanagement": base, "pipelines": base, "studio": "https://ml.azure.com"})

    @fake.route("POST", r"\.inference\.ml\.azure\.com/jobs$")
    def invoke(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        name = req.host.split(".", 1)[0]
        eps = [r for k, r in f.resources.items() if k.endswith(f"/batchendpoints/{name.lower()}")]
        if not eps:
            return _error(404, "EndpointNotFound", f"no batch endpoint {name}")
        if not (req.headers.get("Authorization") or "").startswith("Bearer "):
            return _error(401, "Unauthorized", "no bearer token")
        ws_id = eps[0]["id"].split("/batchEndpoints/")[0]
        job = uuid.uuid4().hex[:12]
        props = req.json().get("properties", {})
        deployment = req.headers.get("azureml-model-deployment") or eps[0]["properties"].get("defaults", {}).get("deploymentName")
        rid = f"{ws_id}/jobs/batchjob-{job}"
        tags = {"endpoint": name, "deployment": deployment or ""}
        # What ARM's jobs API shows for it: a pipeline job (Azure ML runs batch scoring as one) whose ``score``
        # output holds the deployment's output file (``az ml job download --output-name score``).
        score = {"jobOutputType": "uri_folder", "mode": "ReadWriteMount",
                 "uri": f"azureml://datastores/workspaceblobstore/paths/azureml/batchjob-{job}/score/"}
        stored = f.put(rid, {"_batch": {"endpoint": eps[0]["id"], "deployment": deployment}, "properties": {
            "jobType": "Pipeline", "status": "Queued", "experimentName": name, "displayName": f"batchjob-{job}",
            "inputData": props.get("inputData"), "deployment": deployment, "tags": tags, "jobs": {}, "settings": {},
            "inputs": {}, "outputs": {"score": score}}})
        # What the endpoint's data plane answers: the batch job itself.
        reply = {"id": stored["id"], "name": f"batchjob-{job}", "properties": {
            **props, "status": "Queued", "jobType": "Batch", "computeId": None, "experimentName": name,
            "deployment": deployment, "tags": tags, "outputData": {"score": score}}}
        return Reply(200, reply)


def _install_deployment_routes(fake: FakeAzureML) -> None:
    """ARM template deployments, as `az ml workspace create` / azure-ai-ml's Workspace create submit them:
    the workspace named by the template's parameters is created with its default datastores."""
    dep = r"management\.azure\.com(?P<id>/subscriptions/[^/]+/resourcegroups/(?P<rg>[^/]+)/providers/Microsoft\.Resources/deployments/(?P<name>[^/]+))"

    @fake.route("PUT", dep + "$")
    def put_deployment(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        body = req.json() or {}
        params = {k: (v or {}).get("value") for k, v in (body.get("properties", {}).get("parameters") or {}).items()}
        name = params.get("workspaceName")
        if name:
            ws_id = f.ws_id(name, m.group("rg"))
            f.put(ws_id, {"location": params.get("location") or f.location, "properties": {"friendlyName": name},
                          "tags": params.get("tagValues") or {}})
            f._add_default_datastore(ws_id)
        res = {"id": m.group("id"), "name": m.group("name"), "properties": {
            "provisioningState": "Succeeded", "timestamp": _now(), "duration": "PT1S", "mode": "Incremental",
            "parameters": body.get("properties", {}).get("parameters") or {}}}
        f.deployments[m.group("name")] = res
        return Reply(201, res, f.lro(res))

    @fake.route("GET", dep + "$")
    def get_deployment(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        res = f.deployments.get(m.group("name"))
        return Reply(200, res) if res else _error(404, "DeploymentNotFound", "no such deployment")

    @fake.route("GET", r"management\.azure\.com/subscriptions/[^/]+/resourcegroups/[^/]+/(providers/Microsoft\.Resources/)?deployments/[^/]+/operations$")
    def deployment_operations(f: FakeAzureML, req: Request, m: re.Match) -> Reply:
        return Reply(200, {"value": []})


def _resource(f: FakeAzureML, req: Request, rid: str, segs: list[str]) -> Reply | None:
    kind = segs[-2].lower()
    if req.method == "GET":
        res = f.get(rid)
        if res is None:
            return _error(404, "ResourceNotFound", f"{segs[-2]} '{segs[-1]}' was not found")
        return Reply(200, res)
    if req.method in ("PUT", "PATCH"):
        body = req.json() or {}
        if req.method == "PATCH" and f.get(rid) is None:
            return _error(404, "ResourceNotFound", f"{segs[-2]} '{segs[-1]}' was not found")
        if len(segs) > 2 and f.get(rid.rsplit("/", 2)[0]) is None and kind not in ("versions",):
            parent = rid.rsplit("/", 2)[0]
            return _error(404, "ParentResourceNotFound", f"the parent resource {parent.rsplit('/', 1)[1]} was not found")
        existed = f.get(rid) is not None
        res = f.put(rid, body, merge=req.method == "PATCH")
        if kind == "workspaces" and not existed:
            f._add_default_datastore(rid)
        if kind in LRO_TYPES:
            return Reply(200 if existed else 201, res, f.lro(res))
        return Reply(200 if existed else 201, res)
    if req.method == "DELETE":
        if not f.delete(rid):
            return Reply(204)
        if kind in LRO_TYPES:
            return Reply(202, None, f.lro(None))
        return Reply(200)
    return None


def _collection(f: FakeAzureML, req: Request, rid: str, segs: list[str]) -> Reply:
    items = f.children(rid)
    q = {k.lower().lstrip("$"): v for k, v in req.query.items()}
    if q.get("isdefault") == "true":
        items = [r for r in items if r["properties"].get("isDefault")]
    view = q.get("listviewtype", "ActiveOnly")
    if view == "ActiveOnly":
        items = [r for r in items if not r["properties"].get("isArchived")]
    elif view == "ArchivedOnly":
        items = [r for r in items if r["properties"].get("isArchived")]
    order = (q.get("orderby") or "").lower()
    if "createdtime" in order or "createdat" in order:
        items.sort(key=lambda r: r["_seq"], reverse="desc" in order)
    if q.get("top"):
        items = items[: int(q["top"])]
    return Reply(200, {"value": items})


def _action(f: FakeAzureML, req: Request, rid: str, action: str) -> Reply | None:
    res = f.get(rid)
    if res is None:
        return _error(404, "ResourceNotFound", f"'{rid.rsplit('/', 1)[1]}' was not found")
    act = action.lower()
    if act == "listsecrets":
        sec = f.secrets.get(res["name"].lower())
        if sec is None:
            return Reply(200, {"secretsType": "None"})
        return Reply(200, sec)
    if act in ("start", "stop", "restart"):
        inner = res["properties"].setdefault("properties", {})
        inner["state"] = {"start": "Running", "stop": "Stopped", "restart": "Running"}[act]
        f.resources[rid.lower()] = {**f.resources[rid.lower()], "properties": res["properties"]}
        return Reply(202, None, f.lro(None))
    if act == "listkeys":
        return Reply(200, {"userStorageKey": f.blob_key, "userStorageResourceId": res["properties"].get("storageAccount")})
    if act == "listnodes":
        return Reply(200, {"nodes": []})
    return None


VM_SIZES = [
    {"name": "Standard_DS1_v2", "family": "standardDSv2Family", "vCPUs": 1, "gpus": 0, "memoryGB": 3.5,
     "osVhdSizeMB": 1047552, "maxResourceVolumeMB": 7168, "lowPriorityCapable": True, "premiumIO": True,
     "supportedComputeTypes": ["AmlCompute", "ComputeInstance"]},
    {"name": "Standard_DS3_v2", "family": "standardDSv2Family", "vCPUs": 4, "gpus": 0, "memoryGB": 14.0,
     "osVhdSizeMB": 1047552, "maxResourceVolumeMB": 28672, "lowPriorityCapable": True, "premiumIO": True,
     "supportedComputeTypes": ["AmlCompute", "ComputeInstance"]},
    {"name": "Standard_NC6s_v3", "family": "standardNCSv3Family", "vCPUs": 6, "gpus": 1, "memoryGB": 112.0,
     "osVhdSizeMB": 1047552, "maxResourceVolumeMB": 344064, "lowPriorityCapable": True, "premiumIO": True,
     "supportedComputeTypes": ["AmlCompute", "ComputeInstance"]},
]


# ----- the module-level instance and the leafctl test hook -----

FAKE = FakeAzureML()


def reset(**kwargs: Any) -> FakeAzureML:
    global FAKE
    FAKE = FakeAzureML(**kwargs)
    return FAKE


def factory():
    """``LEAFCTL_AZURE_TRANSPORT=fake_arm:factory``: (transport, credential) for leafctl's MLClient.
    With ``LEAFCTL_FAKE_ARM_STATE=<file>`` the state is shared through that file (subprocess tests)."""
    import os

    state = os.environ.get("LEAFCTL_FAKE_ARM_STATE")
    if state and getattr(FAKE, "state_file", None) != state:
        FAKE.persist(state)
    return FAKE.transport(), FAKE.credential()


def factory_real_credential():
    """The fake transport, but leafctl picks the credential from the profile's ``auth`` as in production."""
    return FAKE.transport(), None
