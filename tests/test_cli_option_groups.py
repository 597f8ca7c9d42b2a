"""Option groups: a dataclass's fields become a command's options, in place, and come back whole."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer
from typer.testing import CliRunner

from fedscore.cli.option_groups import options_of

Size = Annotated[int, typer.Option(help="How many.")]
Loud = Annotated[bool, typer.Option("--loud/--quiet", help="Shout or not.")]


@dataclass(frozen=True)
class Greeting:
    size: Size = 3
    loud: Loud = False


def _app() -> tuple[typer.Typer, list[tuple[str, Greeting, int]]]:
    calls: list[tuple[str, Greeting, int]] = []
    app = typer.Typer(add_completion=False)

    @app.command()
    @options_of("greeting", Greeting)
    def greet(name: str, *, greeting: Greeting, times: int = 1) -> None:
        calls.append((name, greeting, times))

    return app, calls


def test_the_group_is_built_from_the_options_and_handed_to_the_command():
    app, calls = _app()
    result = CliRunner().invoke(app, ["ann", "--size", "5", "--loud", "--times", "2"])
    assert result.exit_code == 0, result.output
    assert calls == [("ann", Greeting(size=5, loud=True), 2)]


def test_the_fields_defaults_apply_when_the_options_are_not_given():
    app, calls = _app()
    assert CliRunner().invoke(app, ["bob"]).exit_code == 0
    assert calls == [("bob", Greeting(), 1)]


def test_the_options_stand_where_the_group_parameter_stands():
    app, _ = _app()
    command = typer.main.get_command(app)
    names = [param.name for param in command.params]
    assert names == ["name", "size", "loud", "times"]
