"""Every field of every az ml v2 kind leafctl claims: carried, or refused with the reason.

The promise of ``-f spec.yml`` is that nothing is dropped in silence. Each top-level field that
azure-ai-ml's schema accepts for a kind is listed here as

- ``CARRY``: applied — kept in the record, printed by ``--dry-run``, sent to Azure, and honoured by the
  local backend where it has a meaning there (where it has none, the local backend says so on stderr);
- a reason string: refused — a spec that sets it exits 2 with one line naming the field and the reason.

``tests/specs/test_schema_walk.py`` walks azure-ai-ml's own schema classes (``SCHEMAS``) and fails when a
field is missing here, so a new SDK field cannot slip through unclassified. Stdlib only.
"""

from __future__ import annotations

from typing import Any, Iterable

from leafctl.errors import UsageError

CARRY = "carry"

# kind -> the azure-ai-ml marshmallow schema classes ("module:Class") whose fields the kind accepts.
SCHEMAS: dict[str, tuple[str, ...]] = {
    "job": ("azure.ai.ml._schema.job.command_job:CommandJobSchema",),
    "compute": ("azure.ai.ml._schema.compute.aml_compute:AmlComputeSchema",
                "azure.ai.ml._schema.compute.compute_instance:ComputeInstanceSchema"),
    "datastore": ("azure.ai.ml._schema._datastore:AzureBlobSchema",
                  "azure.ai.ml._schema._datastore:AzureDataLakeGen2Schema"),
    "data": ("azure.ai.ml._schema.assets.data:DataSchema",),
    "model": ("azure.ai.ml._schema.assets.model:ModelSchema",),
    "environment": ("azure.ai.ml._schema.assets.environment:EnvironmentSchema",),
    "batch_endpoint": ("azure.ai.ml._schema._endpoint.batch.batch_endpoint:BatchEndpointSchema",),
    "batch_deployment": ("azure.ai.ml._schema._deployment.batch.batch_deployment:BatchDeploymentSchema",
                         "azure.ai.ml._schema._deployment.batch.model_batch_deployment:ModelBatchDeploymentSchema"),
    "workspace": ("azure.ai.ml._schema.workspace.workspace:WorkspaceSchema",),
}

READ_ONLY = "is set by the service, not by a spec"

# kind -> the module that carries it; each such module holds ``FIELDS = {kind: {field: CARRY | reason}}``
# for its kinds, next to the code that carries them.
MODULES: dict[str, str] = {
    "job": "leafctl.specs.job",
    "compute": "leafctl.specs.compute",
    "datastore": "leafctl.specs.datastore",
    "data": "leafctl.specs.assets",
    "model": "leafctl.specs.assets",
    "environment": "leafctl.specs.assets",
    "batch_endpoint": "leafctl.specs.endpoint",
    "batch_deployment": "leafctl.specs.endpoint",
    "workspace": "leafctl.specs.workspace",
}


def table(kind: str) -> dict[str, str]:
    """field -> CARRY | why it is refused, for ``kind``."""
    import importlib

    return getattr(importlib.import_module(MODULES[kind]), "FIELDS", {}).get(kind, {})


def classify(kind: str, field: str) -> str | None:
    return table(kind).get(field)


def refuse(kind: str, doc: dict[str, Any], where: str, allowed: Iterable[str] = ()) -> None:
    """UsageError (exit 2) naming every top-level field of ``doc`` that leafctl refuses for ``kind``.

    Fields the schema does not know at all are left to azure-ai-ml's validation (it names them, with a
    did-you-mean); ``allowed`` lists fields a caller accepts beyond the table (leafctl's own extensions)."""
    known = table(kind)
    extra = set(allowed)
    bad = [(k, known[k]) for k in doc if k not in extra and k in known and known[k] != CARRY]
    if bad:
        what = "; ".join(f"{k}: {why}" for k, why in bad)
        raise UsageError(f"{where}: {what}", f"remove the field{'s' if len(bad) > 1 else ''} named (see the README's -f section)")


def schema_fields(kind: str) -> set[str]:
    """The top-level fields azure-ai-ml's schemas accept for ``kind`` (for the walk test; imports azure)."""
    import importlib
    import warnings

    from azure.ai.ml.constants._common import BASE_PATH_CONTEXT_KEY

    names: set[str] = set()
    for ref in SCHEMAS[kind]:
        module, _, cls = ref.partition(":")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            schema = getattr(importlib.import_module(module), cls)(context={BASE_PATH_CONTEXT_KEY: "."})
        for name, f in schema.fields.items():
            key = f.data_key or name
            if not f.dump_only or key == "$schema":
                names.add(key)
    return names
