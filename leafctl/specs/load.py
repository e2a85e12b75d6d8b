"""`-f spec.yml` in the az ml v2 schema, read by azure-ai-ml's own loaders, offline, for both backends.

``load(kind, file, sets)`` validates a YAML with ``load_compute``/``load_job``/``load_data``/``load_model``/
``load_environment``/``load_datastore``/``load_batch_endpoint``/``load_batch_deployment``. Command-line flags
and ``--set key=value`` both become ``params_override`` (file < flags < --set; dotted keys reach nested
fields, --set values are YAML scalars). Nothing touches the network, so what these return is what
``--dry-run`` prints. An invalid spec raises UsageError (exit 2) naming every bad field on one line. Batch
deployments dispatch on ``type:`` as the az CLI does: ``type: model`` (an MLflow model with ``settings:``,
which ``load_batch_deployment`` rejects) goes to ``load_model_batch_deployment``.

Importing this module is cheap; azure.ai.ml loads on first use (~1-2 s), so the CLI imports the spec
modules only when -f or --set is given.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from pathlib import Path
from typing import Any, Sequence

from leafctl.backends.base import DatastoreSpec, Environment, JobSpec
from leafctl.errors import UsageError


KINDS = ("compute", "job", "data", "model", "environment", "datastore", "batch_endpoint", "batch_deployment", "workspace")
DOCS = {
    "compute": "https://aka.ms/ml-cli-v2-compute-aml-yaml-reference",
    "job": "https://aka.ms/ml-cli-v2-job-command-yaml-reference",
    "data": "https://aka.ms/ml-cli-v2-data-yaml-reference",
    "model": "https://aka.ms/ml-cli-v2-model-yaml-reference",
    "environment": "https://aka.ms/ml-cli-v2-environment-yaml-reference",
    "datastore": "https://aka.ms/ml-cli-v2-datastore-blob-yaml-reference",
    "batch_endpoint": "https://aka.ms/ml-cli-v2-endpoint-batch-yaml-reference",
    "batch_deployment": "https://aka.ms/ml-cli-v2-deployment-batch-yaml-reference",
    "workspace": "https://aka.ms/ml-cli-v2-workspace-yaml-reference",
}
# A command job must name an environment; a local run needs none. One is lent for validation, then dropped.


def parse_sets(sets: Sequence[str] | None) -> list[dict[str, Any]]:
    """``--set a.b=2`` -> ``[{"a.b": 2}]`` (azure-ai-ml's params_override; values parsed as YAML scalars)."""
    import yaml

    out: list[dict[str, Any]] = []
    for item in sets or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r} is not key=value", "e.g. --set max_instances=4")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        out.append({key.strip(): value})
    return out


def read_doc(file: str | Path) -> dict[str, Any]:
    """The raw YAML mapping of a spec file: exit 3 when it is missing, 2 when it is not a YAML mapping."""
    from leafctl.backends.common import read_yaml_mapping
    from leafctl.redact import remember_refs

    text, doc = read_yaml_mapping(file, "spec file", "-f/--file")
    remember_refs(text)  # the secrets its env:NAME references name are masked in anything printed
    return doc


def _set_path(doc: dict[str, Any], key: str, value: Any) -> None:
    """What a params_override entry does to the document (pydash.set_ on dotted keys)."""
    parts = key.split(".")
    node = doc
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


# ----- validation errors -> one line naming every bad field -----

def _unknown_hint(schema: str | None, field: str) -> str:
    """' (did you mean X?)' for a misspelt top-level key, from the schema's own field names."""
    if not schema:
        return ""
    try:
        from marshmallow import class_registry

        found = class_registry.get_class(schema, all=True)
    except Exception:
        return ""
    classes = found if isinstance(found, list) else [found]
    names = {f.data_key or n for c in classes for n, f in getattr(c, "_declared_fields", {}).items()}
    close = difflib.get_close_matches(field, sorted(names), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _from_text(text: str) -> list[str] | None:
    """'Validation for XSchema failed: {json} ...' -> field lines; None when the text holds no such JSON."""
    m = re.search(r"Validation for (\w+) failed:\s*(\{.*\})", text, re.S)
    if not m:
        return None
    try:
        messages = json.loads(m.group(2))
    except ValueError:
        return None
    return _field_errors(messages, "", m.group(1))


def _field_errors(messages: Any, prefix: str = "", schema: str | None = None) -> list[str]:
    """Flatten marshmallow's nested {field: [msg] | {sub: ...}} into 'field.sub: msg' lines."""
    out: list[str] = []
    if isinstance(messages, dict):
        if "errors" in messages and "result" in messages:  # a validation result wrapping schema errors
            for err in messages.get("errors") or []:
                msg = str(err.get("message", err)) if isinstance(err, dict) else str(err)
                out += _from_text(msg) or [f"{prefix or err.get('path', 'spec') if isinstance(err, dict) else 'spec'}: "
                                           f"{_clean(msg)}"]
            return out
        for k, v in messages.items():
            sub = prefix if k in ("_schema", "null", None, "value") else (f"{prefix}.{k}" if prefix else str(k))
            out += _field_errors(v, sub, schema)
    elif isinstance(messages, (list, tuple)):
        alternatives = [v for v in messages if isinstance(v, dict)]
        if len(alternatives) > 1:  # a union field: no form matched; the first form's complaints say why
            out += _field_errors(alternatives[0], prefix, schema)
        else:
            for v in messages:
                out += _field_errors(v, prefix, schema)
    else:
        text = _clean(str(messages))
        nested = _from_text(str(messages))
        if nested:
            return nested
        if text == "Unknown field." and prefix and "." not in prefix:
            text += _unknown_hint(schema, prefix)
        out.append(f"{prefix or 'spec'}: {text}")
    return list(dict.fromkeys(out))


def _clean(text: str) -> str:
    for cut in ("Visit this link", "If you are trying to configure", "The easiest way to author"):
        text = text.split(cut)[0]
    return " ".join(text.split())


def describe_invalid(e: BaseException) -> list[str]:
    """Each bad field of an azure-ai-ml validation failure, one 'field: problem' per entry."""
    text = str(getattr(e, "message", None) or e)
    found = _from_text(text)
    if found:
        return found
    messages = getattr(e, "messages", None)
    if isinstance(messages, dict):
        return _field_errors(messages)
    return [_clean(text)]


def _crashed_at(e: BaseException) -> str | None:
    """The field whose value made azure-ai-ml's marshmallow schemas raise ``e`` (an AttributeError or
    TypeError, not a ValidationError), from the traceback: the field names marshmallow's Schema was
    loading (``_call_and_store``), the keys of Dict fields and the indexes of List fields on the way."""
    import os

    path: list[str] = []
    tb = e.__traceback__
    while tb is not None:
        frame, tb = tb.tb_frame, tb.tb_next
        if f"{os.sep}marshmallow{os.sep}" not in frame.f_code.co_filename:
            continue
        name, local = frame.f_code.co_name, frame.f_locals
        if name == "_call_and_store" and "field_name" in local:
            path.append(str(local["field_name"]))
        elif name == "_deserialize" and frame.f_code.co_filename.endswith("fields.py"):
            for key in ("key", "idx"):  # Mapping._deserialize, List._deserialize: the entry being read
                if key in local:
                    path.append(str(local[key]))
                    break
    return ".".join(path) or None


def _loader(kind: str, doc: dict[str, Any]) -> Any:
    import azure.ai.ml as ml

    if kind == "batch_deployment":
        from azure.ai.ml.entities import _load_functions as lf

        dtype = str(doc.get("type") or "").lower()
        if dtype == "model":
            return lf.load_model_batch_deployment
        if dtype in ("pipeline", "pipeline_component"):
            return lf.load_pipeline_component_batch_deployment
        return ml.load_batch_deployment
    return getattr(ml, f"load_{kind}")


# A top-level key that params_override can carry as it is (pydash reads '.' and '[' as paths).
_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def _plain_copy(value: Any) -> Any:
    """A copy of a parsed YAML document's dicts and lists (scalars are immutable): what azure-ai-ml
    builds from it must not change the document we hand back."""
    if isinstance(value, dict):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    return value


def _preparsed_source(file: str | Path | None, doc: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]] | None:
    """(source, leading params_override) that give azure-ai-ml the document already read, or None.

    Its ``load_*`` would parse the file again with PyYAML's pure-Python loader (minutes for a 20 MB
    spec). Instead it gets a one-line source holding only ``type`` (so a --set type=... still takes
    priority, as over a file) and the rest of the document as the first params_override, which its
    schemas apply before validating: the same data either way. Keys params_override would read as
    paths, or a document too deep to copy, keep the file path (slow but exact)."""
    if not file or not all(isinstance(k, str) and _PLAIN_KEY.match(k) for k in doc):
        return None
    try:
        base = _plain_copy({k: v for k, v in doc.items() if k != "type"})
    except RecursionError:
        return None
    import yaml

    head = yaml.safe_dump({"type": doc["type"]}) if "type" in doc else "{}"
    return io.StringIO(head), [base]


def apply_overrides(doc: dict[str, Any], overrides: Sequence[dict[str, Any]] | None = None,
                    sets: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Apply the flags (``overrides``) and ``--set`` to ``doc`` in place; returns them as azure-ai-ml's
    params_override (file < flags < --set; dotted keys reach nested fields)."""
    params: list[dict[str, Any]] = []
    for o in [dict(o) for o in overrides or [] if o] + parse_sets(sets):
        for k in o:  # `--set inputs.data.mode=...` on a bare `data: ./a`: promote it to {path: ./a} first
            parts = k.split(".")
            bare = (doc.get(parts[0]) or {}).get(parts[1]) if len(parts) > 2 and isinstance(doc.get(parts[0]), dict) else None
            if parts[0] in ("inputs", "outputs") and isinstance(bare, str):
                params.append({f"{parts[0]}.{parts[1]}": {"path": bare}})
                _set_path(doc, f"{parts[0]}.{parts[1]}", {"path": bare})
        # Tags and environment variables are strings: `--set tags.n=3` means "3", `...=true` means "true".
        params.append({k: _text(v) if k.startswith(("tags.", "environment_variables.")) and not isinstance(v, (dict, list))
                       else v for k, v in o.items()})
    for o in params:
        for k, v in o.items():
            _set_path(doc, k, v)
    return params


def load_with_doc(kind: str, file: str | Path | None, sets: Sequence[str] | None = None,
                  overrides: Sequence[dict[str, Any]] | None = None,
                  lend: dict[str, Any] | None = None, doc: dict[str, Any] | None = None,
                  sign_in: bool = True) -> tuple[Any, dict[str, Any]]:
    """(entity, document): the azure-ai-ml entity for a spec validated offline, and the YAML document with
    the same overrides applied (what the user wrote, to tell given fields from defaults). ``overrides`` are
    the command's flags; ``lend`` fills required fields the user left out, for validation only; ``doc``
    is ``file`` already read (it is then not read again, and is changed in place). ``sign_in`` False: a
    dry run, which signs in nowhere, so the profile's sign-in checks (secret set, ...) are not run.
    No file: the flags and --set alone make the document. UsageError (exit 2) when it is invalid."""
    if kind not in KINDS:
        raise UsageError(f"unknown spec kind {kind!r}", f"one of {', '.join(KINDS)}")
    if doc is None:
        doc = read_doc(file) if file else {}
    preparsed = _preparsed_source(file, doc)
    params = apply_overrides(doc, overrides, sets)
    params += [{k: v} for k, v in (lend or {}).items() if k not in doc]
    from leafctl.backends import before_azure

    if sign_in:
        before_azure()  # the selected profile is checked before azure-ai-ml's import (seconds), not after
    from leafctl.backends.azure.client import quiet_sdk

    quiet_sdk()
    where = str(file) if file else "the flags"
    source: Any = str(file) if file else io.StringIO("{}")
    leading: list[dict[str, Any]] = []
    if preparsed is not None:
        source, leading = preparsed
    try:
        return _loader(kind, {**doc, **{k: v for o in params for k, v in o.items() if "." not in k}})(
            source, relative_origin=str(file) if file else None, params_override=leading + params), doc
    except UsageError:
        raise
    except Exception as e:
        from marshmallow import ValidationError

        from azure.ai.ml.exceptions import MlException

        crashed_at = _crashed_at(e) if isinstance(e, (AttributeError, TypeError)) else None
        if crashed_at is not None:
            # The loader tripped over a value of the wrong shape (`services: {a: 1}`) instead of refusing it.
            fields = [f"{crashed_at}: not a value azure-ai-ml can read ({type(e).__name__}: {e})"]
        elif not isinstance(e, (ValidationError, MlException, ValueError, TypeError, KeyError, FileNotFoundError)):
            raise
        else:
            fields = describe_invalid(e)
        raise UsageError(f"invalid {kind.replace('_', ' ')} spec {where}: " + "; ".join(fields),
                         f"fix the listed field{'s' if len(fields) > 1 else ''} (schema: {DOCS[kind]})") from None


def load(kind: str, file: str | Path | None, sets: Sequence[str] | None = None,
         overrides: Sequence[dict[str, Any]] | None = None) -> Any:
    """The azure-ai-ml entity for a YAML spec, validated offline. UsageError (exit 2) when it is invalid."""
    return load_with_doc(kind, file, sets, overrides)[0]


def resolved(kind: str, file: str | Path, sets: Sequence[str] | None = None) -> dict[str, Any]:
    """The validated spec as azure-ai-ml resolved it (no network, no changes)."""
    entity = load(kind, file, sets)
    return _plain(entity._to_dict())


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(getattr(obj, "value", obj))


def local_path(path: str | None, base: Path | None) -> str | None:
    """A path in a spec is relative to the spec's folder, as in az ml. URIs, asset references, absolute
    paths and relative paths that exist nowhere near the file (datastore paths) are left as written."""
    if path is None:
        return None
    s = str(path)
    if base is None or re.match(r"^[a-z][a-z0-9+.-]*:", s, re.I) or Path(s).expanduser().is_absolute():
        return s
    near = base / s
    return str(near.resolve()) if near.exists() else s


def _base(file: str | Path | None) -> Path | None:
    return Path(file).resolve().parent if file else None


def _text(value: Any) -> str:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
