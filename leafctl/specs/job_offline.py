"""A command job spec checked without azure-ai-ml, for ``run submit --dry-run`` (stdlib only).

azure-ai-ml's ``load_job`` costs seconds (its import and schema build) on every dry run. This check gives
its verdict on the shapes it models exactly, as azure-ai-ml's CommandJobSchema (marshmallow) reads them:
string fields take only strings, integer fields whatever ``int()`` takes (marshmallow's non-strict
Integer: "3600", 3600.0 and 1.5 pass, True does not), enums compare lower-cased (the SDK's
StringTransformedEnum), and the fixed sub-schemas (resources, limits, queue_settings, distribution) refuse
unknown keys. Anything outside those shapes (identity, services, an inline environment beyond
``{image: ...}``, a code that is no local folder, tags that are not strings, dump-only or unknown
top-level fields, a null value, ...) raises ``Unsure``, and ``leafctl.specs.job.job_from_file`` hands the
document to azure-ai-ml's loader instead: slower, never wrong. ``tests/specs/test_job_offline.py`` holds
both to the same verdict and the same printed document, on the corpus and on ~100 variants of it.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from leafctl.errors import UsageError

DOC = "https://aka.ms/ml-cli-v2-job-command-yaml-reference"


class Unsure(Exception):
    """A field this check does not model exactly: azure-ai-ml's loader must decide."""

    def __init__(self, field: str):
        super().__init__(field)
        self.field = field


# The enums as azure-ai-ml declares them (AssetTypes, InputOutputModes, DistributionType, JobTierNames,
# JobPriorityValues), lower-cased as StringTransformedEnum compares them.
DATA_INPUT_TYPES = {"uri_file", "uri_folder"}  # DataInputSchema: the one input form modelled here
INPUT_TYPES = DATA_INPUT_TYPES | {"mltable", "mlflow_model", "custom_model", "triton_model"}
DATA_INPUT_MODES = {"ro_mount", "download", "direct"}
OUTPUT_TYPES = {"uri_file", "uri_folder", "mltable", "mlflow_model", "custom_model", "triton_model"}
OUTPUT_MODES = {"mount", "upload", "rw_mount", "direct"}
INT, STR, MAP, STR_LIST, ARGS, BOOL = "integer", "string", "mapping", "list", "docker args", "boolean"
RESOURCES = {"instance_count": INT, "instance_type": STR, "shm_size": STR, "docker_args": ARGS, "properties": MAP,
             "locations": STR_LIST, "max_instance_count": INT}
LIMITS = {"timeout": INT}
QUEUE_VALUES = {"job_tier": {"spot", "basic", "standard", "premium", "null"}, "priority": {"low", "medium", "high"}}
DISTRIBUTIONS = {
    "mpi": {"process_count_per_instance": INT},
    "pytorch": {"process_count_per_instance": INT},
    "tensorflow": {"worker_count": INT, "parameter_server_count": INT},
    "ray": {"port": INT, "address": STR, "include_dashboard": BOOL, "dashboard_port": INT,
            "head_node_additional_args": STR, "worker_node_additional_args": STR},
}
TEXT_FIELDS = ("name", "display_name", "experiment_name", "description")
# Top-level fields modelled here; any other (identity, services, id, status, creation_context, a typo...)
# goes to azure-ai-ml.
MODELLED = {"$schema", "type", "command", "code", "environment", "compute", "environment_variables", "tags",
            "properties", "inputs", "outputs", "resources", "limits", "queue_settings", "distribution", *TEXT_FIELDS}


def int_like(value: Any) -> bool:
    """marshmallow's Integer(strict=False): bools are refused, anything ``int()`` converts passes."""
    if value is True or value is False:
        return False
    try:
        int(value)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


class _Check:
    def __init__(self, base: Path | None):
        self.bad: list[str] = []
        self.base = base

    def refuse(self, field: str, problem: str) -> None:
        self.bad.append(f"{field}: {problem}")

    def text(self, field: str, value: Any) -> bool:
        """marshmallow's String: str (bytes too, which YAML gives only for !!binary: left to the SDK)."""
        if isinstance(value, bytes):
            raise Unsure(field)
        if not isinstance(value, str):
            self.refuse(field, "not a valid string")
            return False
        return True

    def mapping(self, field: str, value: Any) -> bool:
        if not isinstance(value, dict):
            if isinstance(value, (list, str, int, float)):  # bool is an int
                self.refuse(field, "not a valid mapping")
                return False
            raise Unsure(field)
        return True

    def enum(self, field: str, value: Any, allowed: set[str]) -> None:
        if not (isinstance(value, str) and value.lower() in allowed):
            self.refuse(field, f"must be one of {', '.join(sorted(allowed))}")

    def value(self, field: str, value: Any, kind: str) -> None:
        """One field of a fixed sub-schema."""
        if value is None:
            raise Unsure(field)  # "may not be null", unless a schema hook drops it first: the SDK says
        if kind == INT:
            if not int_like(value):
                self.refuse(field, "not a valid integer")
        elif kind == STR:
            self.text(field, value)
        elif kind == MAP:
            if self.mapping(field, value) and not all(isinstance(k, str) for k in value):
                self.refuse(field, "keys must be strings")
        elif kind == STR_LIST:
            if not isinstance(value, list):
                if isinstance(value, (str, int, float, dict)):
                    self.refuse(field, "not a valid list")
                    return
                raise Unsure(field)
            for i, item in enumerate(value):
                self.text(f"{field}.{i}", item)
        elif kind == ARGS:  # UnionField([Str, List(Str)])
            if not (isinstance(value, str) or isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise Unsure(field)
        elif kind == BOOL:  # marshmallow's Boolean takes "yes", 1, "on", ...: only true bools are modelled
            if not isinstance(value, bool):
                raise Unsure(field)

    def fixed(self, field: str, value: Any, keys: dict[str, str]) -> None:
        if not self.mapping(field, value):
            return
        for k, v in value.items():
            if k not in keys:
                self.refuse(f"{field}.{k}", "unknown field")
            else:
                self.value(f"{field}.{k}", v, keys[k])

    def strings(self, field: str, value: Any) -> None:
        """tags / properties: Dict(keys=Str, values=Str(allow_none=True))."""
        if not self.mapping(field, value):
            return
        for k, v in value.items():
            if not isinstance(k, str):
                self.refuse(f"{field}.{k}", "key not a valid string")
            elif v is not None:
                self.text(f"{field}.{k}", v)

    # -- the top-level fields ------------------------------------------------------------------------

    def command(self, value: Any) -> None:
        self.text("command", value)

    def compute(self, value: Any) -> None:
        self.text("compute", value)  # UnionField(["local", ArmStr, Str]): every string passes

    def code(self, value: Any) -> None:
        """CodeField: a local folder or file (relative to the YAML) or "" are modelled; a URL, git or
        asset reference (azure-ai-ml rewrites azureml: ones) or a path that is not there: the SDK."""
        if not isinstance(value, str):
            raise Unsure("code")
        if value and (":" in value or not ((self.base or Path.cwd()) / value).exists()):
            raise Unsure("code")

    def environment(self, value: Any) -> None:
        if isinstance(value, str):
            if not value.startswith("azureml:"):  # an asset reference (ArmVersionedStr, RegistryStr)
                raise Unsure("environment")
        elif isinstance(value, dict):
            if set(value) != {"image"} or not isinstance(value["image"], str):
                raise Unsure("environment")  # AnonymousEnvironmentSchema: build, conda_file, ...
        elif isinstance(value, (int, float)):
            self.refuse("environment", "not a valid environment reference or mapping")
        else:
            raise Unsure("environment")

    def environment_variables(self, value: Any) -> None:
        self.mapping("environment_variables", value)  # UnionField([Dict(), InputLiteralValue]): any mapping

    def tags(self, value: Any) -> None:
        self.strings("tags", value)

    def properties(self, value: Any) -> None:
        self.strings("properties", value)

    def inputs(self, value: Any) -> None:
        """Literals (bare scalars, folded from {type: integer, ...} before this), and data inputs with
        type uri_file / uri_folder (or none), path and mode; other input forms: the SDK."""
        if not self.mapping("inputs", value):
            return
        for name, entry in value.items():
            where = f"inputs.{name}"
            if not isinstance(name, str) or entry is None:
                raise Unsure(where)
            if isinstance(entry, (str, int, float)):  # PrimitiveValueField (bool is an int)
                continue
            if not isinstance(entry, dict):
                if isinstance(entry, list):
                    self.refuse(where, "not a valid input")
                    continue
                raise Unsure(where)
            if not set(entry) <= {"type", "path", "mode"}:
                raise Unsure(where)
            kind = entry.get("type")
            if kind is None and "type" in entry:
                raise Unsure(f"{where}.type")
            if kind is not None:
                if not (isinstance(kind, str) and kind.lower() in INPUT_TYPES):
                    self.refuse(f"{where}.type", f"must be one of {', '.join(sorted(INPUT_TYPES))}")
                    continue
                if kind.lower() not in DATA_INPUT_TYPES:
                    raise Unsure(f"{where}.type")  # a model or mltable input
            if "path" in entry and not isinstance(entry["path"], str):
                raise Unsure(f"{where}.path")
            if "mode" in entry:
                if kind is None:
                    raise Unsure(f"{where}.mode")  # without a type, other input schemas may take it
                self.enum(f"{where}.mode", entry["mode"], DATA_INPUT_MODES)

    def outputs(self, value: Any) -> None:
        """OutputSchema's type, mode and path (name, version and the rest: the SDK)."""
        if not self.mapping("outputs", value):
            return
        for name, entry in value.items():
            where = f"outputs.{name}"
            if not isinstance(name, str):
                raise Unsure(where)
            if entry is None:
                continue  # NestedField(OutputSchema, allow_none=True)
            if not isinstance(entry, dict):
                if isinstance(entry, (str, list)):
                    self.refuse(where, "not a valid output")
                    continue
                raise Unsure(where)
            if not set(entry) <= {"type", "path", "mode"} or None in entry.values():
                raise Unsure(where)
            if "type" in entry:
                self.enum(f"{where}.type", entry["type"], OUTPUT_TYPES)
            if "mode" in entry:
                self.enum(f"{where}.mode", entry["mode"], OUTPUT_MODES)
            if "path" in entry:
                self.text(f"{where}.path", entry["path"])

    def resources(self, value: Any) -> None:
        self.fixed("resources", value, RESOURCES)

    def limits(self, value: Any) -> None:
        self.fixed("limits", value, LIMITS)

    def queue_settings(self, value: Any) -> None:
        if not self.mapping("queue_settings", value):
            return
        for k, v in value.items():
            if k not in QUEUE_VALUES:
                self.refuse(f"queue_settings.{k}", "unknown field")
            elif v is None:
                raise Unsure(f"queue_settings.{k}")
            else:
                self.enum(f"queue_settings.{k}", v, QUEUE_VALUES[k])

    def distribution(self, value: Any) -> None:
        if not self.mapping("distribution", value):
            return
        kind = value.get("type")
        if not (isinstance(kind, str) and kind.lower() in DISTRIBUTIONS):
            self.refuse("distribution.type", f"must be one of {', '.join(sorted(DISTRIBUTIONS))}")
            return
        keys = DISTRIBUTIONS[kind.lower()]
        for k, v in value.items():
            if k == "type":
                continue
            if k not in keys:
                self.refuse(f"distribution.{k}", "unknown field")
            else:
                self.value(f"distribution.{k}", v, keys[k])


def _problems(doc: dict[str, Any], base: Path | None = None) -> list[str]:
    """The refusals azure-ai-ml would make; raises Unsure where it cannot tell."""
    c = _Check(base)
    for key, value in doc.items():
        if key not in MODELLED:
            raise Unsure(str(key))
        if value is None:
            raise Unsure(key)
        if key in ("$schema", "type"):  # $schema is never read; type: job_from_file admits only command
            continue
        if key in TEXT_FIELDS:
            c.text(key, value)
        else:
            getattr(c, key)(value)
    if "command" not in doc:
        c.refuse("command", "missing data for required field")
    return c.bad


def check(doc: dict[str, Any], where: str, base: Path | None = None) -> SimpleNamespace:
    """Refuse (exit 2) what azure-ai-ml's command job schema refuses, naming every bad field on one line
    (as leafctl.specs.load does for the SDK's verdict); returns the typed fields as the entity has them.
    ``base``: the YAML's folder (local code paths are relative to it). Raises Unsure where only azure-ai-ml
    can tell."""
    bad = _problems(doc, base)
    if bad:
        raise UsageError(f"invalid job spec {where}: " + "; ".join(bad),
                         f"fix the listed field{'s' if len(bad) > 1 else ''} (schema: {DOC})")
    compute = doc.get("compute")
    if isinstance(compute, str) and compute.lower() == "local":
        compute = "local"  # the SDK's StringTransformedEnum(["local"]) lower-cases it
    return SimpleNamespace(
        command=doc.get("command"), code=doc.get("code"), compute=compute,
        experiment_name=doc.get("experiment_name"), display_name=doc.get("display_name"),
        environment_variables=doc.get("environment_variables") or {}, tags=doc.get("tags") or {},
    )
