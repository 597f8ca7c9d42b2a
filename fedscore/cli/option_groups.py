"""Option groups: a set of command-line options declared once and shared by commands.

Typer reads a command's options from its signature, one parameter each, so commands that
take the same options would repeat them. A group is a dataclass whose fields are the
options (an `Annotated[..., typer.Option(...)]` type and a default each); `options_of`
puts its fields into a command's signature where a parameter of the group's type stands,
and hands the command the filled-in group.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, get_type_hints

Result = TypeVar("Result")


def options_of(
    parameter: str, group: type[Any]
) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """A decorator giving a command the fields of the dataclass `group` as its options.

    The options stand in the command's signature (and so in its help) where `parameter`
    stands; the command is called with `parameter` set to the group built from them.

    Args:
        parameter: the command's parameter that receives the group.
        group: a dataclass whose fields, each with a default, are the options.

    Returns:
        The decorator.
    """
    hints = get_type_hints(group, include_extras=True)
    names = [field.name for field in dataclasses.fields(group)]
    options = [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=field.default,
            annotation=hints[field.name],
        )
        for field in dataclasses.fields(group)
    ]

    def decorate(command: Callable[..., Result]) -> Callable[..., Result]:
        signature = inspect.signature(command, eval_str=True)
        if parameter not in signature.parameters:
            raise TypeError(f"{command.__name__} has no parameter '{parameter}'")
        parameters = [
            own.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for own in signature.parameters.values()
        ]
        at = list(signature.parameters).index(parameter)
        parameters[at : at + 1] = options

        @functools.wraps(command)
        def with_group(**arguments: Any) -> Result:
            values = {name: arguments.pop(name) for name in names}
            return command(**arguments, **{parameter: group(**values)})

        with_group.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        with_group.__annotations__ = {
            **{own.name: own.annotation for own in parameters},
            "return": signature.return_annotation,
        }
        return with_group

    return decorate
