"""A registry of named items of one kind (models, strategies, detectors…).

Opacus registers its accountants by name; fedscore does the same for everything a
configuration chooses by name. Each kind has one `Registry`, a module-level constant
of the module that defines the kind, filled when its built-ins are imported.

Every registry behaves the same: names are lowercase identifiers (words joined by
"_" or "-", e.g. "fedavg", "hmac-sm3", "resident_id"), a name already taken is
refused unless the caller explicitly asks to replace it, and an unknown name raises
an error listing the names that exist.

Example:
    >>> MODELS: Registry[ModelFactory] = Registry("model")
    >>> @MODELS.register("lr")
    ... def logistic(spec: ModelSpec) -> nn.Module: ...
    >>> MODELS.get("lr") is logistic
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from fedscore.core.errors import ConfigError

T = TypeVar("T")

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


def origin_of(item: object) -> str:
    """Where an item comes from, as "module.qualname" of it (a function, a class) or its type.

    Args:
        item: a registered item.

    Returns:
        The dotted name shown when another registration collides with the item.
    """
    target = item if hasattr(item, "__qualname__") else type(item)
    return f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', '?')}"


class Registry(Generic[T]):
    """Items of one kind by name, in registration order.

    Attributes:
        kind: what the registry holds, in the singular ("model", "PII detector"), used
            in error messages.
        unknown_error: the exception type `get` raises for an unknown name.
        reserved: names callers resolve themselves before looking up (e.g. "auto"):
            refused at registration and listed among the choices of an unknown name.
    """

    def __init__(
        self,
        kind: str,
        *,
        unknown_error: type[Exception] = ConfigError,
        reserved: Iterable[str] = (),
    ) -> None:
        """An empty registry.

        Args:
            kind: what it holds, in the singular, for error messages.
            unknown_error: the exception type raised by `get` for an unknown name; its
                constructor takes the message.
            reserved: names never registered because callers handle them first.
        """
        self.kind = kind
        self.unknown_error = unknown_error
        self.reserved = frozenset(reserved)
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}

    def add(self, name: str, item: T, *, replace: bool = False, origin: str | None = None) -> T:
        """Register an item under a name.

        Args:
            name: a lowercase identifier: letters and digits, words joined by "_" or "-".
            item: what the name stands for.
            replace: replace an item already registered under the name instead of
                refusing it (for deliberate overrides only).
            origin: who registers the item, for the message of a later collision;
                `origin_of(item)` when None.

        Returns:
            The item, so that the call can be used as an expression.

        Raises:
            ValueError: the name is malformed or reserved, or taken and `replace` is False.
        """
        if not isinstance(name, str) or _NAME.fullmatch(name) is None:
            raise ValueError(
                f"invalid {self.kind} name {name!r}: use lowercase letters and digits, "
                f"words joined by '_' or '-' (like 'fedavg', 'hmac-sm3', 'resident_id')"
            )
        if name in self.reserved:
            raise ValueError(f"{self.kind} name '{name}' is reserved; choose another name")
        if name in self._items and not replace:
            raise ValueError(
                f"{self.kind} '{name}' is already registered (by {self._origins[name]}); "
                f"choose another name"
            )
        self._items[name] = item
        self._origins[name] = origin_of(item) if origin is None else origin
        return item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering the decorated item under `name` (see `add`).

        Args:
            name: the name to register it under.

        Returns:
            A decorator that registers its argument and returns it unchanged.
        """

        def decorate(item: T) -> T:
            return self.add(name, item)

        return decorate

    def get(self, name: str) -> T:
        """The item registered under a name.

        Args:
            name: the registered name.

        Raises:
            Exception: of type `unknown_error`, naming the choices, when no item has
                that name.
        """
        try:
            return self._items[name]
        except KeyError:
            choices = sorted(self.reserved.union(self._items))
            raise self.unknown_error(
                f"unknown {self.kind} '{name}'; choose one of {choices}"
            ) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, item) pairs in registration order."""
        return list(self._items.items())

    def copy(self) -> Registry[T]:
        """An independent registry with the same settings and items (e.g. for a test)."""
        twin: Registry[T] = Registry(
            self.kind, unknown_error=self.unknown_error, reserved=self.reserved
        )
        twin._items = dict(self._items)
        twin._origins = dict(self._origins)
        return twin

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"
