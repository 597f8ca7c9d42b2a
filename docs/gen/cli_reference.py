"""The CLI reference page, from the live Typer app.

The app is found through the `fedscore` entry of `[project.scripts]` in pyproject.toml,
never through a hard-coded module path.
"""

from __future__ import annotations

import html
import importlib
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from markdown_text import markdown_text

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CommandDoc:
    """One command of the CLI tree, with the click context it is documented in.

    Attributes:
        path: the words that call it (`("fedscore", "models", "register")`).
        command: the click command or group.
        context: its click context (parents chained), for usage lines.
    """

    path: tuple[str, ...]
    command: click.Command
    context: click.Context

    @property
    def name(self) -> str:
        """The command line as typed (`fedscore models register`)."""
        return " ".join(self.path)

    @property
    def anchor(self) -> str:
        """Its heading's id on the CLI page (`fedscore-models-register`)."""
        return "-".join(self.path)


def cli_entry_point(script: str = "fedscore") -> str:
    """The `module:attribute` of a console script, read from pyproject.toml."""
    with (REPO / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["scripts"][script])


def load_cli_app(script: str = "fedscore") -> Any:
    """Import the Typer app behind a console script (lazily: only when a page is built)."""
    module_name, _, attribute = cli_entry_point(script).partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def live_commands(script: str = "fedscore") -> list[CommandDoc]:
    """Every command and group of the live CLI, depth first, the root first."""
    import typer

    root = typer.main.get_command(load_cli_app(script))
    return list(_walk(root, (script,), None))


def _walk(
    command: click.Command, path: tuple[str, ...], parent: click.Context | None
) -> Iterator[CommandDoc]:
    context = click.Context(command, info_name=path[-1], parent=parent)
    yield CommandDoc(path, command, context)
    if isinstance(command, click.Group):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, (*path, name), context)


def visible_params(command: click.Command) -> list[click.Parameter]:
    """The arguments and options a command shows (hidden options left out)."""
    return [param for param in command.params if not getattr(param, "hidden", False)]


def param_label(param: click.Parameter) -> str:
    """How a parameter is written: `--private / --non-private`, or an argument's NAME."""
    if isinstance(param, click.Option):
        return " / ".join([*param.opts, *param.secondary_opts])
    return (param.name or "").upper()


def render_cli_page(commands: list[CommandDoc]) -> str:
    """The CLI reference: usage, help and options of every command."""
    lines = [
        "# Command line reference",
        "",
        "Generated at build time from the live Typer application of the `fedscore` "
        "console script (`[project.scripts]` in `pyproject.toml`); "
        "`fedscore COMMAND --help` prints the same.",
        "",
    ]
    for doc in commands:
        lines += ["", f"{'#' * min(len(doc.path) + 1, 4)} `{doc.name}` {{#{doc.anchor}}}", ""]
        lines += ["```text", doc.command.get_usage(doc.context).strip(), "```", ""]
        if doc.command.help:
            lines += [markdown_text(_help_text(doc.command.help)), ""]
        if isinstance(doc.command, click.Group):
            subcommands = [other for other in commands if other.path[:-1] == doc.path]
            lines += ["Commands:", ""]
            lines += [
                f"- [`{sub.name}`](#{sub.anchor}): "
                f"{markdown_text(sub.command.get_short_help_str(limit=120))}"
                for sub in subcommands
            ]
            lines.append("")
        params = visible_params(doc.command)
        if params:
            lines += ["| option | type | default | description |", "|---|---|---|---|"]
            lines += [_param_row(param) for param in params]
    return "\n".join(lines) + "\n"


def _param_row(param: click.Parameter) -> str:
    kind = param.type.name if param.nargs == 1 or param.nargs == -1 else f"{param.type.name} ×"
    if getattr(param, "multiple", False) or param.nargs == -1:
        kind += ", repeatable"
    help_text = getattr(param, "help", None) or ""
    envvar = param.envvar if isinstance(param.envvar, str) else None
    if envvar:
        help_text += f" (environment: `{envvar}`)"
    cells = [
        f"`{param_label(param)}`",
        html.escape(kind),
        _default_text(param),
        markdown_text(_help_text(help_text)) or "—",
    ]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _default_text(param: click.Parameter) -> str:
    if param.required:
        return "required"
    default = param.default
    if callable(default) or default is None or default == [] or default == ():
        return "—"
    if isinstance(param, click.Option) and param.is_flag and param.secondary_opts:
        return f"`{param.opts[0] if default else param.secondary_opts[0]}`"
    text = str(default)
    home = str(Path.home())
    if text.startswith(home):
        text = "~" + text[len(home) :]
    return f"`{text}`"


def _help_text(text: str) -> str:
    """Click help as one paragraph per blank-line-separated block (`\\b` markers dropped)."""
    blocks = [block.replace("\b", "").strip() for block in text.split("\n\n")]
    return "\n\n".join(" ".join(block.split()) for block in blocks if block)
