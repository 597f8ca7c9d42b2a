"""What a PII detector is, and the registry that names them.

A detector finds one kind of personal information in arbitrary text, Chinese
text without separators included. It works in two steps: a compiled regular
expression (`Detector.pattern`) proposes candidates, and `Detector.is_valid`
keeps those that pass the kind's own rules (check characters, calendar dates,
province codes). `is_valid` is total: it returns False for any input it does
not accept and never raises.

Detectors are registered by name, as Opacus registers its accountants; the
package registers the built-in ones when `fedscore.privacy.pii` (or any of its
modules) is first imported. `DETECTORS` is the package's only global mutable state.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

from fedscore.core.registry import Registry


class Detector(ABC):
    r"""One kind of personal information: how to find candidates and how to validate them.

    Subclasses set the class attributes and implement `is_valid`.

    Attributes:
        name: the registry name, also the `detector` of scan results (e.g. "mobile").
        pattern: compiled regex finding candidates anywhere in a text. It must not rely
            on `\b` (which fails next to CJK characters) but on lookarounds, must use
            `[0-9]` rather than `\d` (which matches any Unicode digit), and must never
            match across a line break: scanners join many values with "\n".
        min_digits: the fewest digits a bare integer needs to contain a match, used to
            pre-filter numeric columns; None when the detector never matches a bare
            integer (its values are not numbers).
        context_chars: how many characters before a candidate `is_valid` wants to see as
            `context` (e.g. a "卡号" keyword); 0 when it ignores context.
        digit_run: (shortest, longest): every match contains a maximal run of consecutive
            ASCII digits whose length lies in this range, so scanners may skip values
            without such a run; None when matches need no digits.
        required_text: every match contains this substring (e.g. "@"), so scanners may
            skip texts without it; "" when there is none.
    """

    name: str
    pattern: re.Pattern[str]
    min_digits: int | None = None
    context_chars: int = 0
    digit_run: tuple[int, int] | None = None
    required_text: str = ""

    @abstractmethod
    def is_valid(self, candidate: str, context: str = "") -> bool:
        """Whether a candidate is this kind of personal information; never raises.

        Args:
            candidate: the text to judge, usually one match of `pattern`; any other
                value (another string, a non-string) is simply judged invalid.
            context: what precedes the candidate: up to `context_chars` characters of
                the same line, after any outer context (e.g. a column name) passed to
                `spans`. Detectors that ignore context ignore it.
        """

    def spans(self, text: str, context: str = "") -> Iterator[tuple[int, int]]:
        r"""(start, end) of every validated match in `text`, in order.

        Args:
            text: the text to search; lines are separate values (context never crosses
                a line break).
            context: outer context of the whole text, such as the name of the column the
                text comes from; a candidate sees it followed by "\n" and the start of
                its own line, so it matters only for candidates near a line start.
        """
        if self.required_text and self.required_text not in text:
            return
        window = self.context_chars
        for match in self.pattern.finditer(text):
            start, end = match.span()
            before = ""
            if window > 0:
                before = text[max(0, start - window) : start]
                line_break = before.rfind("\n")
                if line_break >= 0:
                    before = before[line_break + 1 :]
                before = f"{context}\n{before}"
            if self.is_valid(match.group(), before):
                yield start, end

    def find(self, text: str) -> list[str]:
        """Every validated match in `text`, as the substrings found, in order.

        Args:
            text: the text to search.
        """
        return [text[start:end] for start, end in self.spans(text)]

    def count(self, text: str, context: str = "") -> int:
        """How many validated matches `text` holds.

        Args:
            text: the text to search.
            context: outer context of the whole text, as in `spans`.
        """
        return sum(1 for _ in self.spans(text, context))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


#: The detectors by name, in registration order (the order scans report them).
DETECTORS: Registry[Detector] = Registry("PII detector", unknown_error=KeyError)


def register_detector(detector: Detector, *, replace: bool = False) -> Detector:
    """Make a detector available by its name; returns it.

    Args:
        detector: the detector; its `name` must be a lowercase identifier (e.g.
            "resident_id") and its `pattern` a compiled regex.
        replace: deliberately replace a detector already registered under the same name.

    Raises:
        TypeError: `detector` is not a `Detector` or lacks a compiled `pattern`.
        ValueError: the name is missing or malformed, or taken and `replace` is False.
    """
    if not isinstance(detector, Detector):
        raise TypeError(f"not a Detector: {detector!r}")
    name = getattr(detector, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"a detector needs a non-empty name: {detector!r}")
    if not isinstance(getattr(detector, "pattern", None), re.Pattern):
        raise TypeError(f"detector {name!r} needs a compiled regex as `pattern`")
    return DETECTORS.add(name, detector, replace=replace)


def get_detector(name: str) -> Detector:
    """The detector registered under a name.

    Args:
        name: its registry name, e.g. "resident_id".

    Raises:
        KeyError: no detector has that name (the message lists those that exist).
    """
    return DETECTORS.get(name)


def available_detectors() -> list[str]:
    """Names of all registered detectors, in registration order."""
    return [name for name, _ in DETECTORS.items()]


def default_detectors() -> list[Detector]:
    """All registered detectors, in registration order: what scans use by default."""
    return [detector for _, detector in DETECTORS.items()]


def resolve_detectors(detectors: Iterable[Detector | str] | None) -> list[Detector]:
    """Detectors given as objects or registry names, or all registered ones.

    Args:
        detectors: detectors and/or names of registered detectors; None for
            `default_detectors()`. A single name is accepted too.

    Raises:
        KeyError: a name is not registered.
        TypeError: an item is neither a `Detector` nor a name.
    """
    if detectors is None:
        return default_detectors()
    if isinstance(detectors, str | Detector):
        detectors = [detectors]
    resolved: list[Detector] = []
    for item in detectors:
        if isinstance(item, str):
            resolved.append(get_detector(item))
        elif isinstance(item, Detector):
            resolved.append(item)
        else:
            raise TypeError(f"expected a Detector or a detector name, got {item!r}")
    return resolved
