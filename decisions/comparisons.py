"""Comparisons in rules: both sides type-checked, category literals turned into codes.

A category (`PAY_0`, `grade`) is compared with a literal of its vocabulary, which becomes
the category's code; an integer-coded category is ordinal (`PAY_0 >= 2`), a text one and
the grade only take `==` and `!=`. A comparison of a field with a literal restricts the
field's values (`fedscore.decisions.domains.restrict`).
"""

from __future__ import annotations

import ast
import operator
from typing import Any

from fedscore.decisions.domains import Domain, flip, restrict
from fedscore.decisions.expressions import (
    Binary,
    Columns,
    Expression,
    Kind,
    error_at,
    fold,
)
from fedscore.decisions.fields import FieldType

#: The comparison operators: their symbol and function.
COMPARISONS: dict[type[ast.cmpop], tuple[str, Binary]] = {
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
}


def comparison(node: ast.Compare, left: Expression, op: ast.cmpop, right: Expression) -> Expression:
    """One `left op right` comparison, type-checked, with what it needs of a compared field.

    Args:
        node: the comparison's node (for errors and positions).
        left: the left side, already parsed.
        op: the comparison operator (one of `COMPARISONS`).
        right: the right side, already parsed.
    """
    symbol, function = COMPARISONS[type(op)]
    left, right = _operands(node, left, symbol, right)
    run_l, run_r = left.run, right.run

    def run(columns: Columns) -> Any:
        return function(run_l(columns), run_r(columns))

    domains: dict[str, Domain] = {}
    if left.field_type is not None and right.constant is not None:
        domains[left.field_type.name] = restrict(left.field_type, symbol, right.constant)
    elif right.field_type is not None and left.constant is not None:
        domains[right.field_type.name] = restrict(right.field_type, flip(symbol), left.constant)
    text = f"{left.text} {symbol} {right.text}"
    return Expression(
        text, Kind.CONDITION, run, fold(run, [left, right]), left.names | right.names, domains
    )


def _operands(
    node: ast.Compare, left: Expression, symbol: str, right: Expression
) -> tuple[Expression, Expression]:
    """Both sides of a comparison, a category literal turned into its code; type-checked."""
    for one, other in ((left, right), (right, left)):
        kind = one.field_type
        if kind is not None and kind.is_category:
            if other.field_type is not None and other.field_type != kind:
                raise error_at(
                    node,
                    f"type mismatch: '{one.text}' and '{other.text}' are different kinds of values",
                )
            if symbol not in ("==", "!=") and not kind.ordered:
                raise error_at(
                    node,
                    f"type mismatch: '{one.text}' is {kind.describe}: compare "
                    "it with ==, != or in, not with " + symbol,
                )
            if other.field_type is None:
                other = category_literal(node, kind, other)
            return (one, other) if one is left else (other, one)
    for side in (left, right):
        if side.kind is not Kind.NUMBER:
            raise error_at(
                node,
                f"type mismatch: {_quoted(side)} is {side.kind.value}, and "
                f"'{symbol}' compares numbers",
            )
    return left, right


def category_literal(node: ast.AST, kind: FieldType, other: Expression) -> Expression:
    """A literal compared with a category, as the category's code (checked in its vocabulary).

    Args:
        node: where the comparison is (for errors).
        kind: the category's type.
        other: the literal.
    """
    if other.literal is None:
        raise error_at(
            node,
            f"type mismatch: '{kind.name}' is {kind.describe}: compare it "
            "with a literal of its vocabulary",
        )
    code = kind.code(other.literal) if type(other.literal) is type(kind.vocabulary[0]) else None
    if code is None:
        if type(other.literal) is not type(kind.vocabulary[0]):
            raise error_at(
                node,
                f"type mismatch: '{kind.name}' is {kind.describe}, "
                f"{other.text} is {other.kind.value}",
            )
        raise error_at(
            node, f"{other.text} is not a category of '{kind.name}' (allowed: {kind.allowed})"
        )
    return Expression(other.text, Kind.NUMBER, lambda _: code, constant=code, literal=code)


def _quoted(expression: Expression) -> str:
    """An operand as messages show it: a literal as written, anything else in quotes."""
    return expression.text if expression.literal is not None else f"'{expression.text}'"
