"""Examples that end each command's `--help`, as gh's and az's help does: 1-3 command lines per command,
and per group ("" is `leafctl --help` itself).

One table, keyed by the command's path, so the help of every command reads the same way and a test can
parse every example against the real command tree (tests/cli/test_global_options.py). A command whose
docstring has its own "Examples:" section, or that sets an epilog itself, keeps that. Plain text: the
help is rendered with rich markup, so no square brackets here.

An example is printed as one line; one wider than the terminal is broken only between words, before an
option where it can be, each broken line ending in " \\" (a shell line continuation), so that it is never
split inside a word and pastes into a shell as the same command (rich alone would wrap it anywhere).
"""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    # the root and the groups: where to start
    "": ("leafctl example write campaign ./leaf-tour",
         "leafctl run evolve --sample campaign",
         "leafctl model prescribe campaign-esp --input contexts.csv --out actions.csv"),
    "config": ("leafctl config init --profile dev", "leafctl config set compute cpu-pool", "leafctl config list"),
    "workspace": ("leafctl workspace list", "leafctl workspace create scratch"),
    "compute": ("leafctl compute list", "leafctl compute create cpu-pool --type cluster --max-nodes 2"),
    "data": ("leafctl data upload ./training-data --path campaign", "leafctl data create campaign --path ./training-data",
             "leafctl data list"),
    "data store": ("leafctl data store list", "leafctl data store create scratch --type local --path /srv/data"),
    "run": ("leafctl run evolve --sample campaign", "leafctl run list --status Failed", "leafctl run logs RUN_ID --follow"),
    "model": ("leafctl model register campaign-esp --run RUN_ID --type mlflow", "leafctl model list",
              "leafctl model prescribe campaign-esp --input contexts.csv --out actions.csv"),
    "endpoint": ("leafctl endpoint create churn-batch --model churn:3 --compute cpu-cluster",
                 "leafctl endpoint invoke churn-batch --input ./to-score --output-path ./scores --wait"),
    "endpoint deployment": ("leafctl endpoint deployment list --endpoint churn-batch",
                            "leafctl endpoint deployment create blue --endpoint churn-batch --model churn:3 --set-default"),
    "env": ("leafctl env list", "leafctl env show leaf-esp"),
    "plugins": ("leafctl plugins list",),
    "example": ("leafctl example list", "leafctl example write campaign ./leaf-tour"),
    # config
    "config init": ("leafctl config init --profile dev",
                    "leafctl config init -p prod --backend azure --set subscription_id=00000000-0000-0000-0000-000000000000 "
                    "--set resource_group=aml-rg --set workspace=aml --no-use"),
    "config list": ("leafctl config list", "leafctl config list -o json --query \"[?current].name\""),
    "config show": ("leafctl config show", "leafctl config show prod -v -o yaml"),
    "config use": ("leafctl config use prod",),
    "config set": ("leafctl config set compute cpu-pool", "leafctl config set client_secret env:SP_PASSWORD -p prod"),
    "config unset": ("leafctl config unset compute", "leafctl config unset experiment -p prod"),
    "config path": ("leafctl config path",),
    "config validate": ("leafctl config validate",),
    # workspace
    "workspace create": ("leafctl workspace create scratch", "leafctl workspace create -f workspace.yml --dry-run"),
    "workspace show": ("leafctl workspace show", "leafctl -p prod workspace show -o json"),
    "workspace list": ("leafctl workspace list",),
    "workspace delete": ("leafctl workspace delete scratch --yes",),
    # compute
    "compute create": ("leafctl compute create cpu-pool --type cluster --max-nodes 2",
                       "leafctl -p prod compute create gpu-cluster --size Standard_NC6s_v3 --min-nodes 0 --max-nodes 2 "
                       "--idle-seconds 120",
                       "leafctl compute create -f compute.yml --set max_instances=4 --dry-run"),
    "compute show": ("leafctl compute show cpu-pool",),
    "compute list": ("leafctl compute list", "leafctl compute list -o tsv --query \"[].name\""),
    "compute delete": ("leafctl compute delete cpu-pool --yes",),
    "compute start": ("leafctl -p prod compute start my-instance",),
    "compute stop": ("leafctl -p prod compute stop my-instance",),
    "compute list-sizes": ("leafctl -p prod compute list-sizes",),
    # data
    "data upload": ("leafctl data upload ./training-data --path campaign",
                    "leafctl -p prod data upload ./training-data --path campaign --datastore leaf_data"),
    "data download": ("leafctl data download campaign --output-path ./campaign",),
    "data ls": ("leafctl data ls campaign",),
    "data create": ("leafctl data create campaign --path ./training-data",
                    "leafctl data create -f data.yml --dry-run"),
    "data show": ("leafctl data show campaign", "leafctl data show campaign:2"),
    "data list": ("leafctl data list", "leafctl data list campaign"),
    "data store create": ("leafctl data store create scratch --type local --path /srv/data",
                          "leafctl -p prod data store create leaf_data --type azure_blob --account-name mystore "
                          "--container-name data --account-key env:STORAGE_KEY"),
    "data store show": ("leafctl data store show workspaceblobstore",),
    "data store list": ("leafctl data store list",),
    "data store delete": ("leafctl data store delete scratch --yes",),
    # run
    "run submit": ("leafctl run submit --code ./src --command 'python train.py --data ${{inputs.data}}' "
                   "--input data=./training-data --wait",
                   "leafctl run submit -f job.yml --set compute=azureml:cpu-pool --wait",
                   "leafctl run submit -f job.yml --dry-run"),
    "run evolve": ("leafctl run evolve --sample campaign",
                   "leafctl run evolve --data data.csv --actions discount,emails --outcomes revenue,margin "
                   "--objective revenue:max --objective action_cost:min -o json",
                   "leafctl run evolve --resume RUN_ID --generations 200"),
    "run list": ("leafctl run list", "leafctl run list --status Failed --limit 10 -o json"),
    "run show": ("leafctl run show RUN_ID", "leafctl run show RUN_ID -o json --query status"),
    "run logs": ("leafctl run logs RUN_ID", "leafctl run logs RUN_ID --follow"),
    "run wait": ("leafctl run wait RUN_ID --logs", "leafctl run wait RUN_ID --timeout 3600"),
    "run cancel": ("leafctl run cancel RUN_ID --yes",),
    "run download": ("leafctl run download RUN_ID --output-path ./outputs",
                     "leafctl run download RUN_ID --output model --output-path ./outputs"),
    # model
    "model register": ("leafctl model register churn --run RUN_ID --output model --tag accuracy=0.91",
                       "leafctl model register campaign-esp --run RUN_ID --type mlflow",
                       "leafctl model register churn --path ./model"),
    "model show": ("leafctl model show churn", "leafctl model show churn:3 -o json"),
    "model list": ("leafctl model list", "leafctl model list churn"),
    "model download": ("leafctl model download churn --best accuracy --output-path ./model",
                       "leafctl model download churn --version 3"),
    "model delete": ("leafctl model delete churn --version 1 --yes",),
    "model prescribe": ("leafctl model prescribe campaign-esp --input contexts.csv --out actions.csv",
                        "leafctl model prescribe campaign-esp --input contexts.csv --candidate best:revenue -o json",
                        "leafctl model prescribe campaign-esp --input contexts.csv --candidate all > every.csv"),
    # endpoint
    "endpoint create": ("leafctl endpoint create churn-batch --model churn:3 --compute cpu-cluster",
                        "leafctl endpoint create -f endpoint.yml --dry-run"),
    "endpoint show": ("leafctl endpoint show churn-batch",),
    "endpoint list": ("leafctl endpoint list",),
    "endpoint delete": ("leafctl endpoint delete churn-batch --yes",),
    "endpoint invoke": ("leafctl endpoint invoke churn-batch --input ./to-score --output-path ./scores --wait",),
    "endpoint deployment create": ("leafctl endpoint deployment create blue --endpoint churn-batch --model churn:3 "
                                   "--compute cpu-cluster --set-default",
                                   "leafctl endpoint deployment create -f deployment.yml --dry-run"),
    "endpoint deployment show": ("leafctl endpoint deployment show blue --endpoint churn-batch",),
    "endpoint deployment list": ("leafctl endpoint deployment list --endpoint churn-batch",),
    "endpoint deployment delete": ("leafctl endpoint deployment delete blue --endpoint churn-batch --yes",),
    # env
    "env create": ("leafctl env create leaf-esp --image mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04 "
                   "--conda-file conda.yml",
                   "leafctl env create -f environment.yml --dry-run"),
    "env show": ("leafctl env show leaf-esp", "leafctl env show leaf-esp:2"),
    "env list": ("leafctl env list",),
    # plugins
    "plugins list": ("leafctl plugins list",),
    # example
    "example list": ("leafctl example list",),
}


def epilog(path: str) -> str | None:
    """The help epilog for the command at ``path`` ("run evolve"), or None when the table has none."""
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    # Typer's help joins single line breaks and keeps double ones: one example per line.
    return "\n\n".join(["Examples:", *lines])


def add_examples(cmd, path: str):  # click.Command or Group; not imported here (start-up)
    """Give ``cmd`` its examples, unless its own help already shows some. ``cmd.epilog`` holds them (the
    docs read it there); help rendered by typer with rich prints them through ``print_examples``."""
    text = epilog(path)
    if text and not cmd.epilog and "Examples:" not in (cmd.help or ""):
        cmd.epilog = text
        if getattr(cmd, "rich_markup_mode", None) is not None:
            from functools import partial

            cmd.format_help = partial(_format_help, cmd, cmd.format_help, EXAMPLES[path])
    return cmd


def _format_help(cmd, format_help, examples: tuple[str, ...], ctx, formatter) -> None:
    """typer's help without the epilog (it would wrap an example anywhere), then the examples."""
    epilog, cmd.epilog = cmd.epilog, None
    try:
        format_help(ctx, formatter)
    finally:
        cmd.epilog = epilog
    print_examples(examples)


def print_examples(examples: tuple[str, ...]) -> None:
    """The examples as typer prints an epilog (a blank line around, one column in), each one whole."""
    from rich.text import Text
    from typer import rich_utils

    console = rich_utils._get_rich_console()  # the console the rest of the help went to: same width, colours
    lines = ["", "Examples:", *(line for e in examples for line in shell_lines(e, console.width - 2))]
    for line in lines:
        console.print(rich_utils.highlighter(Text(f" {line}" if line else "")), soft_wrap=True)


def shell_lines(example: str, width: int) -> list[str]:
    """``example`` in lines of at most ``width`` characters: whole if it fits, else broken between
    words (before an option and its value where it can be) with " \\" at each broken line's end and
    the rest indented. A word wider than ``width`` stays whole on its own line."""
    if len(example) <= width:
        return [example]
    import shlex

    lexer = shlex.shlex(example, posix=False)  # posix=False: a quoted argument stays one word, quotes kept
    lexer.whitespace_split, lexer.commenters = True, ""
    units: list[list[str]] = []  # an option with its values, a redirection with its file, the command words
    for word in lexer:
        if not units or word.startswith("-") or word in (">", "|", "&&"):
            units.append([word])
        else:
            units[-1].append(word)
    indent, lines, line = "    ", [], ""
    for unit in units:
        whole = " ".join(unit)
        for piece in [whole] if len(indent + whole + " \\") <= width else unit:
            if not line:
                line = piece
            elif len(f"{line} {piece} \\") <= width:
                line = f"{line} {piece}"
            else:
                lines.append(f"{line} \\")
                line = indent + piece
    return [*lines, line]
