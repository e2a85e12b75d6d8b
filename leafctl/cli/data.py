"""`leafctl data`: datastores (`data store ...`), file transfers, and versioned data assets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leafctl.cli._common import (DestAlias, DryRunOption, FileOption, SetOption, TagOption, YesOption, backend, confirm_destructive,
                                 emit, info, note_local, parse_kv, progress, settings)
from leafctl.cli._complete import complete_data_names, complete_datastore_names
from leafctl.errors import UsageError
from leafctl.output import Column

app = typer.Typer(help="Datastores, file transfers and versioned data assets.", no_args_is_help=True)
store = typer.Typer(help="Datastores: create, show, list, delete.", no_args_is_help=True)
app.add_typer(store, name="store")

# On a narrow terminal a path is cut at its start ("…/datastores/x"), then the least useful columns go first.
STORE_COLUMNS = ["name", "type", Column("account_name", drop=3), Column("container_name", drop=4), Column("credential", drop=5),
                 Column("is_default", drop=2), Column("path", drop=1, cut=True, tail=True)]
ASSET_COLUMNS = ["name", "version", Column("type", drop=2), Column("path", drop=1, cut=True, tail=True), "created_at"]
DatastoreOpt = Annotated[str | None, typer.Option("--datastore", "-d", help="Datastore (default: profile datastore, else workspaceblobstore).",
                                                  autocompletion=complete_datastore_names)]
StoreNameArg = Annotated[str, typer.Argument(help="Datastore name.", autocompletion=complete_datastore_names)]

@store.command("create")
def store_create(
    name: Annotated[str | None, typer.Argument(help="Datastore name (or `name:` in the YAML).")] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="local | azure_blob | azure_data_lake_gen2 (default: local).")] = None,
    path: Annotated[str | None, typer.Option("--path", help="local: an existing folder to expose.")] = None,
    account_name: Annotated[str | None, typer.Option("--account-name", help="Storage account (azure types).")] = None,
    container_name: Annotated[str | None, typer.Option("--container-name", help="Blob container or ADLS filesystem.")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="Storage endpoint suffix, e.g. core.windows.net.")] = None,
    account_key: Annotated[str | None, typer.Option("--account-key", help="env:NAME reference to the account key (never a literal).")] = None,
    sas_token: Annotated[str | None, typer.Option("--sas-token", help="env:NAME reference to a SAS token (never a literal).")] = None,
    tenant_id: Annotated[str | None, typer.Option("--tenant-id", help="Service principal tenant (azure_data_lake_gen2).")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="Service principal application (client) id.")] = None,
    client_secret: Annotated[str | None, typer.Option("--client-secret", help="env:NAME reference to the service principal's secret.")] = None,
    file: FileOption = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Register a datastore (get-or-create; a different spec for an existing name is a conflict).

    Secrets (--account-key, --sas-token, --client-secret) are env:NAME references only; a literal is refused."""
    from leafctl.backends.base import DatastoreSpec
    from leafctl.backends.common import check_name, credential_kind

    flags = dict(name=name, type=type_, path=path, account_name=account_name, container_name=container_name,
                 endpoint=endpoint, account_key=account_key, sas_token=sas_token, tenant_id=tenant_id,
                 client_id=client_id, client_secret=client_secret)
    # Secrets are checked before anything else reads them, so a literal never reaches a loader or an error.
    credential_kind(DatastoreSpec(name="", account_key=account_key, sas_token=sas_token, client_secret=client_secret))
    if file or set_:
        from leafctl.specs.datastore import datastore_from_file

        spec = datastore_from_file(file, set_, flags)
    else:
        spec = DatastoreSpec(**{k: v for k, v in flags.items() if v is not None and k != "type"}, type=type_ or "local") \
            if name else None
    if spec is None or not spec.name:
        raise UsageError("the datastore has no name", "give NAME, or `name:` in the YAML")
    credential_kind(spec)  # refuses literal secrets, so what is printed holds references only
    if dry_run:
        from leafctl.specs.datastore import datastore_doc

        check_name("datastore", spec.name)
        emit(datastore_doc(spec))  # the az ml document; secrets only as the env:NAME references given
        return
    emit(backend().create_datastore(spec))


@store.command("show")
def store_show(name: Annotated[str | None, typer.Argument(help="Datastore name (default: the default one).",
                                                          autocompletion=complete_datastore_names)] = None) -> None:
    """Show a datastore (never its secrets)."""
    emit(backend().get_datastore(name))


@store.command("list")
def store_list() -> None:
    """List datastores."""
    emit(backend().list_datastores(), STORE_COLUMNS)


@store.command("delete")
def store_delete(name: StoreNameArg, yes: YesOption = False) -> None:
    """Forget a datastore; its files are left where they are."""
    b = backend()
    b.get_datastore(name)
    confirm_destructive(f"delete datastore {name}", yes)
    b.delete_datastore(name)
    info(f"deleted datastore {name}")
    emit({"name": name, "deleted": True})


@app.command()
def upload(
    src: Annotated[Path, typer.Argument(help="A local file or folder.")],
    path: Annotated[str | None, typer.Option("--path", help="Destination in the datastore (default: profile data_path, "
                                                            "else the source's name).")] = None,
    datastore: DatastoreOpt = None,
    follow_links: Annotated[bool, typer.Option("--follow-links", help="Upload what symlinks inside the folder point at "
                                                                      "(default: leave links out, with a warning).")] = False,
) -> None:
    """Upload a file or folder; files whose MD5 is unchanged are skipped. Symlinks inside a folder are left
    out (one warning names them) unless --follow-links is given."""
    dest = path if path is not None else settings().get("data_path", "")
    with progress(f"upload {src.name}") as bar:
        result = backend().upload(src, dest, datastore=datastore, progress=bar, follow_links=follow_links)
    if result.links_skipped:
        # A link may point anywhere (a key file, a home folder): never uploaded unless asked for.
        shown = ", ".join(result.links_skipped[:20]) + (f" and {len(result.links_skipped) - 20} more"
                                                       if len(result.links_skipped) > 20 else "")
        info(f"warning: skipped {len(result.links_skipped)} symlink(s) in {src}: {shown} "
             "— pass --follow-links to upload what they point at")
    emit(result)


@app.command()
def download(
    path: Annotated[str, typer.Argument(help="A datastore path or azureml://datastores/<ds>/paths/<p> URI.")],
    output_path: Annotated[Path | None, typer.Option("--output-path", metavar="DIR",
                                                     help="Local folder to write into (default: the current folder).")] = None,
    datastore: DatastoreOpt = None,
    dest: DestAlias = None,
) -> None:
    """Download a file, or a folder's contents, into --output-path. Unsafe stored names are refused."""
    from leafctl.cli._common import output_folder

    dest = output_folder(output_path, dest, Path("."))
    with progress(f"download {path}") as bar:
        emit(backend().download(path, dest, datastore=datastore, progress=bar))


@app.command()
def ls(
    path: Annotated[str, typer.Argument(help="A datastore path (default: everything).")] = "",
    datastore: DatastoreOpt = None,
) -> None:
    """List files under a datastore path."""
    emit(backend().ls(path, datastore=datastore), ["path", "size", "modified_at"])


@app.command()
def create(
    name: Annotated[str | None, typer.Argument(help="Data asset name (or `name:` in the YAML).")] = None,
    path: Annotated[str | None, typer.Option("--path", help="A local path (snapshotted), a datastore path or an azureml:// URI.")] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="uri_file | uri_folder | mltable (default: detected).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Explicit version (default: the next one).")] = None,
    description: Annotated[str | None, typer.Option("--description", help="A description.")] = None,
    tag: TagOption = None,
    file: FileOption = None,
    set_: SetOption = None,
    dry_run: DryRunOption = False,
) -> None:
    """Create a version of a data asset (a file, a folder, or an MLTable folder; az ml data YAML with -f)."""
    tags = parse_kv(tag)
    flags = dict(name=name, path=path, type=type_, version=version, description=description)
    if file or set_:
        from leafctl.specs.assets import data_from_file

        overrides = [{k: v} for k, v in flags.items() if v is not None] + [{f"tags.{k}": v} for k, v in tags.items()]
        spec = data_from_file(file, set_, overrides)
        if path is not None:  # a flag's path is relative to the working directory, not to the YAML
            spec["path"] = spec["doc"]["path"] = path
    else:
        spec = {**flags, "tags": tags}
    if not spec.get("name") or not spec.get("path"):
        raise UsageError("a data asset needs a name and --path", "e.g. leafctl data create train --path ./data/train.csv")
    doc = spec.pop("doc", None)
    if dry_run:
        from leafctl.backends.common import check_name
        from leafctl.specs.assets import data_doc

        check_name("data asset", spec["name"])
        if spec["type"] not in (None, "uri_file", "uri_folder", "mltable"):
            raise UsageError(f"data asset type must be uri_file, uri_folder or mltable, got {spec['type']!r}", "or leave --type out")
        emit(doc if doc is not None else data_doc(spec))
        return
    if spec.get("extra"):
        from leafctl.specs.assets import no_local_effect

        note_local(f"data asset {spec['name']}", no_local_effect(spec["extra"]))
    if backend().name == "local":
        from leafctl.backends.local.data import CLOUD_URL

        if CLOUD_URL.match(str(spec["path"])):
            info(f"note: data asset {spec['name']}: {spec['path']} is recorded as written; local runs cannot read a "
                 "cloud URL (a job using this asset runs on the azure backend)")
    emit(backend().create_data_asset(**spec))


@app.command()
def show(ref: Annotated[str, typer.Argument(help="NAME or NAME:VERSION (default: latest).", autocompletion=complete_data_names)]) -> None:
    """Show a data asset version."""
    from leafctl.backends.common import split_name_version

    name, version = split_name_version(ref)
    emit(backend().get_data_asset(name, version))


@app.command("list")
def list_(name: Annotated[str | None, typer.Argument(help="With a name: all its versions.", autocompletion=complete_data_names)] = None) -> None:
    """List data assets (latest version of each), or every version of one."""
    rows = backend().list_data_assets(name)
    if name is not None and not rows:
        from leafctl.errors import NotFound

        raise NotFound(f"data asset {name!r} not found", "see `leafctl data list`")
    emit(rows, ASSET_COLUMNS)
