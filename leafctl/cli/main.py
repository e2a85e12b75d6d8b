"""The `leafctl` entry point: a lazy root group, global options everywhere, one-line errors.

Start-up speed matters (every Tab press re-runs this), so:
- each command group lives in its own module, imported only when that group is invoked, completed
  or shown; `leafctl --help` lists groups from the static table below without importing them;
- nothing here imports azure, numpy or cupy (a test guards it).

Global options (-p/-o/-q/-v/--debug) are accepted before the group and after the command, as az's
are: they are declared on the root callback and injected into every leaf command, where a callback
stores them on the shared State instead of passing them to the command function.
"""

from __future__ import annotations

import sys
from typing import Any

import click
import typer
from typer.core import TyperGroup

from leafctl import __version__, redact
from leafctl.cli import _state
from leafctl.cli._examples import add_examples
from leafctl.errors import LeafctlError
from leafctl.output import FORMATS

# name -> (module, one-line help). Order is the order `--help` shows.
GROUPS: dict[str, tuple[str, str]] = {
    "config": ("leafctl.cli.config", "Profiles: create, show, select and validate them."),
    "workspace": ("leafctl.cli.workspace", "Workspaces: create, show, list, delete."),
    "compute": ("leafctl.cli.compute", "Compute targets: clusters and instances."),
    "data": ("leafctl.cli.data", "Datastores, file transfers and versioned data assets."),
    "run": ("leafctl.cli.run", "Jobs: submit, evolve (LEAF-ESP), follow, download."),
    "model": ("leafctl.cli.model", "Registered models: register, download, prescribe."),
    "endpoint": ("leafctl.cli.endpoint", "Batch endpoints serving a registered model."),
    "env": ("leafctl.cli.env", "Environments: docker image plus conda file."),
    "example": ("leafctl.cli.example", "Example folders: sample data, a training job, an evolve config."),
    "plugins": ("leafctl.cli.plugins", "Installed leafctl plugins."),
}


def _store(name: str):
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value not in (None, False, 0, ()):
            setattr(_state.current(), name, value)
            if name == "verbose" and value >= 2:
                redact.enable_sdk_logging()
        return value

    return callback


def _global_params(taken: set[str]) -> list[click.Parameter]:
    """The global options for one leaf command, minus names the command already uses itself."""
    specs = [
        ("profile", ["-p", "--profile"], dict(help="Profile to use.", shell_complete=_complete_profile)),
        ("output", ["-o", "--output"], dict(type=click.Choice(FORMATS), help="Output format (default: table on a terminal, else json).")),
        ("query", ["-q", "--query"], dict(help="JMESPath query applied to the output.")),
        ("verbose", ["-v", "--verbose"], dict(count=True, metavar="", help="More detail on stderr (-vv: the Azure SDK's logs too).")),
        ("debug", ["--debug"], dict(is_flag=True, help="Show tracebacks.")),
    ]
    params = []
    for name, decls, kw in specs:
        free = [d for d in decls if d not in taken]
        if not free:
            continue
        params.append(click.Option(free + [f"_global_{name}"], expose_value=False, callback=_store(name), hidden=False, **kw))
    return params


def inject_globals(cmd: click.Command) -> click.Command:
    if isinstance(cmd, LazyGroup):
        return cmd  # its commands get the options as they are loaded
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            inject_globals(sub)
        return cmd
    taken = {o for p in cmd.params for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
    cmd.params.extend(_global_params(taken))
    return cmd


# Completion callbacks live in _complete (stdlib only), so the fast Tab path can call them without click.
from leafctl.cli._complete import complete_profile as _complete_profile  # noqa: E402


def _load_group(name: str) -> click.Command | None:
    import importlib

    if name in GROUPS:
        module = importlib.import_module(GROUPS[name][0])
        sub = module.app
    else:
        from leafctl.plugins import plugin_groups

        sub = plugin_groups().get(name)
        if sub is None:
            from leafctl.plugins import disabled_names

            if name in disabled_names():
                from leafctl.errors import UsageError

                raise UsageError(f"plugin {name!r} is installed but not enabled", "add it to LEAFCTL_LOAD_PLUGINS (comma list)")
            return None
    # A group, even for a Typer with one command (`plugins list`).
    cmd = lazy_group(sub) if isinstance(sub, typer.Typer) else inject_globals(sub)
    cmd.name = name
    if isinstance(cmd, LazyGroup):
        cmd._path = name
        add_examples(cmd, name)  # `leafctl run --help` ends with a few examples, as each command's does
    return cmd


class SuggestingGroup(TyperGroup):
    """`leafctl modle list` -> "did you mean 'model'?". Typer's own suggestion reads ``self.commands``,
    which lazy groups fill only on demand; this asks ``list_commands`` (names only, nothing imported)."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return click.Group.resolve_command(self, ctx, args)
        except click.UsageError as e:
            if args and e.message.startswith("No such command"):
                from difflib import get_close_matches

                close = get_close_matches(str(args[0]), self.list_commands(ctx), n=1)
                if close:
                    e.message = f"no such command {args[0]!r}; did you mean {close[0]!r}?"
            raise


class LazyGroup(SuggestingGroup):
    """A Typer group whose commands are converted to click only when asked for.

    typer.main.get_group converts every command of a group (signature inspection, parameter
    objects) on every invocation; a Tab press or a command needs one of them.
    """

    _lazy: dict[str, Any]
    _path = ""  # "data store": this group's place in the tree (the examples table is keyed by it)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self._lazy)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in self._lazy:
            cmd = self._lazy[name]()
            path = f"{self._path} {name}".strip()
            if isinstance(cmd, LazyGroup):
                cmd._path = path
            add_examples(cmd, path)
            self.commands[name] = inject_globals(cmd)
        return self.commands.get(name)


def lazy_group(app: typer.Typer) -> click.Group:
    from functools import partial

    from typer.main import get_command_from_info, get_command_name, get_group_from_info
    from typer.models import TyperInfo

    kw = dict(pretty_exceptions_short=app.pretty_exceptions_short, rich_markup_mode=app.rich_markup_mode)
    commands, groups = app.registered_commands, app.registered_groups
    app.registered_commands, app.registered_groups = [], []
    saved_cls, app.info.cls = app.info.cls, LazyGroup
    try:  # the group itself (callback, help, settings) exactly as typer builds it, minus its commands
        group = get_group_from_info(TyperInfo(app), suggest_commands=app.suggest_commands, **kw)
    finally:
        app.registered_commands, app.registered_groups, app.info.cls = commands, groups, saved_cls
    lazy: dict[str, Any] = {}
    for info in commands:
        lazy[info.name or get_command_name(info.callback.__name__)] = partial(get_command_from_info, info, **kw)
    for info in groups:  # sub-groups such as `data store`
        sub = info.typer_instance
        lazy[info.name or sub.info.name] = partial(_lazy_subgroup, sub, info.name or sub.info.name)
    group._lazy = lazy  # type: ignore[attr-defined]
    return group


def _lazy_subgroup(app: typer.Typer, name: str) -> click.Group:
    group = lazy_group(app)
    group.name = name
    return group


class RootGroup(SuggestingGroup):
    """Lazy groups, and the one place errors become exit codes and one-line messages."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = list(GROUPS)
        from leafctl.plugins import plugin_names

        names += [n for n in plugin_names() if n not in GROUPS]
        return names

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if self._listing and name in GROUPS:
            # `leafctl --help` only needs each group's one-line help: don't import the module.
            return click.Group(name, help=GROUPS[name][1])
        try:
            return _load_group(name)
        except LeafctlError:
            raise
        except Exception as e:  # a broken plugin must not break leafctl
            if name in GROUPS:
                raise
            _warn(f"plugin {name!r} failed to load: {e}")
            return None

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # stdout's reader went away (`leafctl run list | head -1`): not a failure of the command.
            # Get past click, which would turn it into a bare exit 1.
            raise _StdoutClosed() from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv
        _state.reset().argv = argv
        redact.reset()
        code = 0
        try:
            rv = super().main(args=argv, prog_name=prog_name or "leafctl", complete_var=complete_var,
                              standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
            if code == 130:  # typer turns KeyboardInterrupt into Exit(130) silently
                _say("error: interrupted — nothing more was done; run the command again to go on")
        except LeafctlError as e:
            _traceback(debug)
            _suggest_name(e)
            _say(e.line())
            code = e.exit_code
        except click.exceptions.NoSuchOption as e:
            _say(_usage_line(e))
            code = 2
        except click.UsageError as e:
            _say(_usage_line(e))
            code = 2
        except click.exceptions.Abort:  # Ctrl-C or Ctrl-D at a prompt
            _say("error: aborted — nothing was changed")
            code = 130
        except KeyboardInterrupt:
            _say("error: interrupted")
            code = 130
        except click.ClickException as e:
            _say(f"error: {' '.join(e.format_message().split())}")
            code = e.exit_code
        except (BrokenPipeError, _StdoutClosed):
            _stdout_to_devnull()
            code = 0
        except SystemExit as e:
            # rich's help rendering into a closed pipe (`leafctl --help | head`) exits 1 itself.
            if isinstance(e.__context__, BrokenPipeError):
                _stdout_to_devnull()
                code = 0
            else:
                raise
        except Exception as e:
            _traceback(debug)
            # A disk, a permission, a file that is not UTF-8 ... is the user's to fix, not a bug:
            # map it to its documented error. Only what is left over is "unexpected".
            from leafctl.errors import from_exception

            mapped = from_exception(e, registry=_registry_file(e))
            if mapped is not None:
                _say(mapped.line())
                code = mapped.exit_code
            else:
                msg = " ".join(str(e).split()) or type(e).__name__
                _say(f"error: unexpected {type(e).__name__}: {msg} — rerun with --debug for the traceback and report it")
                code = 1
        if standalone_mode:
            sys.exit(code)
        return code


def _suggest_name(e: LeafctlError) -> None:
    """`model download chrun` -> "... did you mean 'churn'?", as misspelt commands, options and columns get."""
    from leafctl.errors import NotFound

    if isinstance(e, NotFound) and "did you mean" not in (e.hint or ""):
        from leafctl.cli._complete import close_resource_name

        close = close_resource_name(e.what)
        if close:
            e.hint = f"did you mean {close!r}? " + (e.hint or "")


def _say(line: str) -> None:
    """The one way an error line reaches stderr: redacted (a library message may quote a SAS URL)."""
    click.echo(redact.redact(line), err=True)


def _traceback(debug: bool) -> None:
    """Under --debug: the traceback, chained exceptions included, redacted before it is printed."""
    if debug:
        import traceback

        sys.stderr.write(redact.redact(traceback.format_exc()))
        sys.stderr.flush()


def _registry_file(e: BaseException) -> str | None:
    """The SQLite file a DatabaseError came from: the Registry object on the failing call's stack
    (sqlite3's own message never names the file)."""
    if type(e).__module__ != "sqlite3":
        return None
    tb = e.__traceback__
    found = None
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if type(owner).__name__ == "Registry" and getattr(owner, "path", None):
            found = str(owner.path)
        tb = tb.tb_next
    return found


class _StdoutClosed(Exception):
    """A BrokenPipeError on stdout, carried past click's own EPIPE handling."""


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null so the flush at exit does not fail on the closed pipe again."""
    import os

    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (in-process test runners)
        pass


def _usage_line(e: click.UsageError) -> str:
    # An empty message is click's "no arguments, so the help was shown" (`leafctl compute`).
    msg = " ".join(e.format_message().split()) or "missing command"
    msg = msg[0].lower() + msg[1:]
    path = e.ctx.command_path if e.ctx else "leafctl"
    return f"error: {msg.rstrip('.')} — see `{path} --help`"


def _warn(msg: str) -> None:
    click.echo(redact.redact(f"warning: {msg}"), err=True)


def _version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"leafctl {__version__}")
        ctx.exit(0)


app = typer.Typer(
    cls=RootGroup,
    name="leafctl",
    help="LEAF-ESP on Azure Machine Learning: profiles, workspaces, compute, data, runs, models, endpoints.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    profile: str = typer.Option(None, "--profile", "-p", help="Profile to use.", autocompletion=lambda: []),
    # The same type, metavar and help as the copies every command gets (_global_params): one option, shown one way.
    output: str = typer.Option(None, "--output", "-o", click_type=click.Choice(FORMATS),
                               help="Output format (default: table on a terminal, else json)."),
    query: str = typer.Option(None, "--query", "-q", help="JMESPath query applied to the output."),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, metavar="", show_default=False,
                                help="More detail on stderr (-vv: the Azure SDK's logs too)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    st = _state.current()
    if profile is not None:  # here, so commands that never read the settings refuse a bad name too
        from leafctl.profiles import check_profile_name

        check_profile_name(profile, "--profile")
    st.profile, st.output, st.query, st.verbose, st.debug = profile, output, query, verbose, debug
    if verbose >= 2:  # -vv: the Azure SDK's own logs too (redacted)
        redact.enable_sdk_logging()


cli = typer.main.get_command(app)
add_examples(cli, "")  # `leafctl --help` ends with where to start (a table of strings: nothing heavy)
# The root's -p completes profile names too.
for _p in cli.params:
    if getattr(_p, "name", None) == "profile":
        _p._custom_shell_complete = _complete_profile  # type: ignore[attr-defined]


def run() -> None:
    cli.main(prog_name="leafctl")


if __name__ == "__main__":
    run()
