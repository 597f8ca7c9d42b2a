"""Rule expressions: parsed with Python's `ast`, checked against typed fields, never `eval`ed.

The grammar is a small subset of Python expressions (`ast.parse(text, mode="eval")`):

    expr     := expr ("or" | "and") expr | "not" expr | compare | arith
    compare  := arith (op arith)+                      op: < <= > >= == !=
              | NAME ("in" | "not in") "(" literal ("," literal)* ")"
    arith    := arith ("+" | "-" | "*" | "/") arith | "-" arith | call | atom
    call     := ("min" | "max") "(" arith ("," arith)+ ")" | "abs" "(" arith ")"
    atom     := NAME | NUMBER | "text" | true | false | "(" expr ")"

Comparisons are checked in `fedscore.decisions.comparisons`. Any other node (attributes,
subscripts, other calls, lambdas, f-strings…) is refused, so `__import__('os')` never
runs: nothing is evaluated but the closures built here over numpy.
Each parsed expression is type-checked (numbers, conditions, categories with their
vocabulary) and carries a necessary condition on its fields (`domains`), from which a
condition that can never hold is detected (`AGE < 20 and AGE > 70`, `PAY_0 > 8`).
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from fedscore.decisions.comparisons import COMPARISONS, category_literal, comparison
from fedscore.decisions.domains import restrict
from fedscore.decisions.expressions import (
    Binary,
    Columns,
    Expression,
    ExpressionError,
    Kind,
    Run,
    conjunction,
    disjunction,
    error_at,
    fold,
)
from fedscore.decisions.fields import FieldType

_ARITHMETIC: dict[type[ast.operator], Binary] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: np.divide,
}
_FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "min": (np.minimum, 2, 8),
    "max": (np.maximum, 2, 8),
    "abs": (np.abs, 1, 1),
}
_AND: Binary = np.logical_and
_NAMED_CONSTANTS = {"true": True, "false": False, "True": True, "False": False}


def parse_expression(text: str, fields: Mapping[str, FieldType]) -> Expression:
    """Parse and check one expression.

    Args:
        text: the expression as written in the strategy file.
        fields: the names it may use, with their types.

    Raises:
        ExpressionError: a syntax error, a construct outside the grammar, an unknown name or
            a type mismatch, with its 1-based column.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        offset = len(text) - len(text.lstrip())
        if not exc.offset:  # Python reports an expression that ends too early at offset 0
            raise ExpressionError(
                "not an expression: it ends too early", offset + len(text.strip()) + 1
            ) from None
        raise ExpressionError(f"not an expression: {exc.msg}", offset + exc.offset) from None
    offset = len(text) - len(text.lstrip())
    try:
        return _Checker(text, fields).visit(tree.body)
    except ExpressionError as error:
        error.column += offset
        raise


class _Checker:
    """Builds an `Expression` from an `ast` node, checking every node against the grammar."""

    def __init__(self, text: str, fields: Mapping[str, FieldType]) -> None:
        self.text = text
        self.fields = fields

    def visit(self, node: ast.AST) -> Expression:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise error_at(node, f"not allowed in a rule: {_construct(node)}")
        result: Expression = method(node)
        return result

    def _segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text.strip(), node) or self.text

    # -- atoms ----------------------------------------------------------------------

    def _Constant(self, node: ast.Constant) -> Expression:
        value = node.value
        if isinstance(value, bool):
            return Expression(repr(value), Kind.CONDITION, lambda _: value, constant=value)
        if isinstance(value, int | float) and math.isfinite(value):
            number = float(value)
            return Expression(
                repr(value), Kind.NUMBER, lambda _: number, constant=number, literal=number
            )
        if isinstance(value, str):
            return Expression(repr(value), Kind.TEXT, lambda _: value, literal=value)
        raise error_at(node, f"not allowed in a rule: the literal {value!r}")

    def _Name(self, node: ast.Name) -> Expression:
        if node.id in _NAMED_CONSTANTS:
            return self._Constant(
                ast.Constant(_NAMED_CONSTANTS[node.id], col_offset=node.col_offset)
            )
        kind = self.fields.get(node.id)
        if kind is None:
            close = difflib.get_close_matches(node.id, list(self.fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise error_at(
                node,
                f"unknown field '{node.id}'{hint}; rules use the task's features and "
                "pd, score, grade",
            )
        name = node.id
        return Expression(
            name,
            Kind.NUMBER,
            lambda columns: columns[name],
            names=frozenset({name}),
            field_type=kind,
        )

    def _Tuple(self, node: ast.Tuple | ast.List) -> Expression:
        raise error_at(node, "a list of values is only allowed after 'in' or 'not in'")

    _List = _Tuple

    # -- arithmetic -----------------------------------------------------------------

    def _number(self, node: ast.AST) -> Expression:
        part = self.visit(node)
        if part.kind is not Kind.NUMBER:
            raise error_at(
                node, f"type mismatch: '{self._segment(node)}' is {part.kind.value}, not a number"
            )
        if part.field_type is not None and part.field_type.is_category:
            raise error_at(
                node,
                f"type mismatch: '{part.text}' is {part.field_type.describe}: compare it, "
                "do not compute with it",
            )
        return part

    def _combine(self, run: Run, parts: list[Expression], text: str) -> Expression:
        names = frozenset().union(*(p.names for p in parts))
        return Expression(text, Kind.NUMBER, run, constant=fold(run, parts), names=names)

    def _BinOp(self, node: ast.BinOp) -> Expression:
        function = _ARITHMETIC.get(type(node.op))
        if function is None:
            raise error_at(node, f"not allowed in a rule: the operator {_construct(node.op)}")
        left, right = self._number(node.left), self._number(node.right)
        run_l, run_r = left.run, right.run
        return self._combine(
            lambda c: function(run_l(c), run_r(c)), [left, right], self._segment(node)
        )

    def _UnaryOp(self, node: ast.UnaryOp) -> Expression:
        if isinstance(node.op, ast.Not):
            part = self._condition(node.operand)
            run = part.run
            return Expression(
                self._segment(node),
                Kind.CONDITION,
                lambda c: np.logical_not(run(c)),
                constant=None if part.constant is None else not part.constant,
                names=part.names,
            )
        if isinstance(node.op, ast.USub | ast.UAdd):
            part = self._number(node.operand)
            sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
            run = part.run
            return self._combine(lambda c: operator.mul(sign, run(c)), [part], self._segment(node))
        raise error_at(node, f"not allowed in a rule: the operator {_construct(node.op)}")

    def _Call(self, node: ast.Call) -> Expression:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        spec = _FUNCTIONS.get(name or "")
        if spec is None or node.keywords:
            called = f"'{name}'" if name else "this kind of call"
            raise error_at(
                node,
                f"not allowed in a rule: function call {called} (allowed: min, max, abs)",
            )
        function, fewest, most = spec
        if not fewest <= len(node.args) <= most:
            raise error_at(
                node,
                f"{name}() takes {fewest}" + (f" to {most}" if most > fewest else "") + " numbers",
            )
        parts = [self._number(arg) for arg in node.args]
        runs = [part.run for part in parts]
        run: Run = (
            (lambda c: function(runs[0](c)))
            if len(runs) == 1
            else (lambda c: functools.reduce(function, (r(c) for r in runs)))
        )
        return self._combine(run, parts, self._segment(node))

    # -- conditions -----------------------------------------------------------------

    def _condition(self, node: ast.AST) -> Expression:
        part = self.visit(node)
        if part.kind is not Kind.CONDITION:
            raise error_at(node, f"'{self._segment(node)}' is {part.kind.value}, not a condition")
        return part

    def _BoolOp(self, node: ast.BoolOp) -> Expression:
        parts = [self._condition(value) for value in node.values]
        both = isinstance(node.op, ast.And)
        combine: Binary = np.logical_and if both else np.logical_or
        runs = [part.run for part in parts]

        def run(columns: Columns) -> Any:
            return functools.reduce(combine, (r(columns) for r in runs))

        constant = fold(run, parts)
        if constant is None and any(p.constant is (not both) for p in parts):
            constant = not both  # `x or true` is true, `x and false` false
        domains = conjunction(parts) if both else disjunction(parts)
        names = frozenset().union(*(p.names for p in parts))
        text = self._segment(node)
        return Expression(text, Kind.CONDITION, run, constant, names, domains)

    def _Compare(self, node: ast.Compare) -> Expression:
        if any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            if len(node.ops) > 1:
                raise error_at(node, "'in' and 'not in' cannot be chained; join with 'and'")
            return self._membership(node, self.visit(node.left), node.ops[0], node.comparators[0])
        pairs = []
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if type(op) not in COMPARISONS:
                raise error_at(node, f"not allowed in a rule: {_construct(op)}")
            right = self.visit(right_node)
            pairs.append(comparison(node, left, op, right))
            left = right
        if len(pairs) == 1:
            return pairs[0]
        runs = [pair.run for pair in pairs]

        def run(columns: Columns) -> Any:
            return functools.reduce(_AND, (r(columns) for r in runs))

        names = frozenset().union(*(p.names for p in pairs))
        return Expression(
            self._segment(node), Kind.CONDITION, run, fold(run, pairs), names, conjunction(pairs)
        )

    def _membership(
        self, node: ast.Compare, left: Expression, op: ast.cmpop, items: ast.AST
    ) -> Expression:
        if not isinstance(items, ast.Tuple | ast.List) or not items.elts:
            raise error_at(items, "'in' takes a list of literals: AGE in (30, 40)")
        kind = left.field_type
        if kind is None:
            raise error_at(node, "'in' tests a field: EDUCATION in (1, 2)")
        literals = [self.visit(item) for item in items.elts]
        if kind.is_category:
            codes = [
                category_literal(item, kind, lit).constant
                for item, lit in zip(items.elts, literals, strict=True)
            ]
        else:
            codes = [self._number(item).constant for item in items.elts]
            if any(code is None for code in codes):
                raise error_at(items, "'in' takes a list of literals: AGE in (30, 40)")
        values = np.array(codes, dtype=np.float64)
        negate = isinstance(op, ast.NotIn)
        run_l = left.run

        def run(columns: Columns) -> Any:
            found = np.isin(run_l(columns), values)
            return np.logical_not(found) if negate else found

        domains = {} if negate else {kind.name: restrict(kind, "in", tuple(values.tolist()))}
        return Expression(self._segment(node), Kind.CONDITION, run, None, left.names, domains)


def _construct(node: ast.AST) -> str:
    """A construct's name as a message shows it ("function call", "attribute access"…)."""
    names = {
        "Attribute": "attribute access",
        "Subscript": "indexing",
        "Lambda": "lambda",
        "IfExp": "conditional expression",
        "JoinedStr": "f-string",
        "Starred": "unpacking",
        "NamedExpr": "assignment",
        "Pow": "'**'",
        "Mod": "'%'",
        "FloorDiv": "'//'",
        "BitAnd": "'&' (use 'and')",
        "BitOr": "'|' (use 'or')",
        "Is": "'is' (use '==')",
    }
    kind = type(node).__name__
    return names.get(kind, kind)
