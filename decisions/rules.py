"""Hard and soft rules: compiled from the strategy file, evaluated over many rows at once.

Hard (strong) rules are checked in order: the first that fires decides the outcome
(decline or refer). Soft (weak) rules flag: they cap the grade and/or refer an application
that would be approved. Every rule that fires is recorded, not only the deciding one.
A rule's `grade` (hard) or `cap_grade` (soft) is the best grade an application it fires on
may keep: the final grade is the worst of the score's grade and these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fedscore.decisions.expressions import Expression, ExpressionError, Kind
from fedscore.decisions.fields import FieldType
from fedscore.decisions.grammar import parse_expression
from fedscore.decisions.strategy import HardRule, SoftRule

#: Outcome codes (index into OUTCOMES).
APPROVE, REFER, DECLINE = 0, 1, 2
OUTCOMES = ("approve", "refer", "decline")
#: Not set (no hard rule decided, no grade cap).
NONE = -1


@dataclass(frozen=True)
class Rule:
    """One compiled rule.

    Attributes:
        name: its name.
        strong: a hard rule (True) or a soft one.
        condition: when it fires.
        reason: its reason code.
        outcome: REFER or DECLINE (a hard rule; a soft rule with refer = true: REFER), or NONE.
        grade: the best grade index it leaves (NONE: no cap).
    """

    name: str
    strong: bool
    condition: Expression
    reason: str
    outcome: int
    grade: int


@dataclass(frozen=True)
class RuleVerdicts:
    """What the rules say about each row.

    Attributes:
        fired: (rows × rules) whether each rule fired.
        outcome: the first fired hard rule's outcome, NONE where none fired.
        grade_cap: the worst grade index any fired rule imposes, NONE where none.
        refer: whether a fired soft rule refers the row.
    """

    fired: np.ndarray
    outcome: np.ndarray
    grade_cap: np.ndarray
    refer: np.ndarray


@dataclass(frozen=True)
class RuleSet:
    """The rules of a strategy, hard ones first, in file order.

    Attributes:
        rules: the compiled rules.
    """

    rules: tuple[Rule, ...]

    @property
    def names(self) -> frozenset[str]:
        """The fields the rules read."""
        return frozenset().union(*(rule.condition.names for rule in self.rules))

    def evaluate(self, columns: Mapping[str, np.ndarray], rows: int) -> RuleVerdicts:
        """Every rule over every row.

        Args:
            columns: the rule inputs as float64 columns (features, pd, score, grade).
            rows: how many rows they hold.
        """
        fired = np.zeros((rows, len(self.rules)), dtype=bool)
        for j, rule in enumerate(self.rules):
            fired[:, j] = rule.condition.evaluate(columns, rows)
        hard = np.array([rule.strong for rule in self.rules], dtype=bool)
        outcomes = np.array([rule.outcome for rule in self.rules], dtype=np.int8)
        caps = np.array([rule.grade for rule in self.rules], dtype=np.int8)
        if not self.rules:
            none = np.full(rows, NONE, dtype=np.int8)
            return RuleVerdicts(fired, none, none.copy(), np.zeros(rows, dtype=bool))
        decisive = fired & hard
        outcome = np.where(decisive.any(axis=1), outcomes[decisive.argmax(axis=1)], NONE)
        grade_cap = np.where(fired, caps, NONE).max(axis=1, initial=NONE)
        refer = (fired & ~hard & (outcomes == REFER)).any(axis=1)
        return RuleVerdicts(fired, outcome.astype(np.int8), grade_cap.astype(np.int8), refer)


def compile_rules(
    hard: list[HardRule],
    soft: list[SoftRule],
    fields: Mapping[str, FieldType],
    grades: tuple[str, ...],
) -> tuple[RuleSet, list[str]]:
    """The compiled rules and every problem found (each naming the rule and position).

    Problems: a condition that does not parse, names an unknown field, mixes types or is not
    a condition; one that can never hold; a hard rule after one that always fires (it can
    never decide); an unknown grade; a name used twice.

    Args:
        hard: the `[[hard_rules]]` in order.
        soft: the `[[soft_rules]]`.
        fields: the names conditions may use.
        grades: the grade names, best first.
    """
    rules: list[Rule] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    always: str | None = None
    tables: list[tuple[str, Sequence[HardRule | SoftRule]]] = [
        ("hard_rules", hard),
        ("soft_rules", soft),
    ]
    for table, entries in tables:
        for position, entry in enumerate(entries, start=1):
            where = f"[[{table}]] #{position} '{entry.name}'"
            if entry.name in seen:
                problems.append(f"{where}: the name is already used by {seen[entry.name]}")
            seen[entry.name] = where
            condition = _condition(entry.when, fields, where, problems)
            cap = entry.grade if isinstance(entry, HardRule) else entry.cap_grade
            grade = _grade_index(cap, grades, where, problems)
            if condition is None:
                continue
            if condition.never_true:
                problems.append(
                    f"{where} when, column 1: can never fire: '{entry.when}' never holds "
                    "(its comparisons leave no possible value)"
                )
            if isinstance(entry, HardRule):
                if always is not None:
                    problems.append(
                        f"{where}: unreachable: {always} before it always fires and decides"
                    )
                if condition.always_true:
                    always = where
                outcome = DECLINE if entry.outcome == "decline" else REFER
            else:
                outcome = REFER if entry.refer else NONE
            rules.append(
                Rule(
                    entry.name, isinstance(entry, HardRule), condition, entry.reason, outcome, grade
                )
            )
    return RuleSet(tuple(rules)), problems


def _condition(
    text: str, fields: Mapping[str, FieldType], where: str, problems: list[str]
) -> Expression | None:
    """A rule's parsed condition, or None after recording why it is not one."""
    try:
        expression = parse_expression(text, fields)
    except ExpressionError as error:
        problems.append(f"{where} when, column {error.column}: {error}")
        return None
    if expression.kind is not Kind.CONDITION:
        problems.append(
            f"{where} when, column 1: must be a condition (true or false), not "
            f"{expression.kind.value}"
        )
        return None
    return expression


def _grade_index(
    grade: str | None, grades: tuple[str, ...], where: str, problems: list[str]
) -> int:
    if grade is None:
        return NONE
    if grade not in grades:
        problems.append(f"{where}: unknown grade '{grade}' (grades: {', '.join(grades)})")
        return NONE
    return grades.index(grade)
