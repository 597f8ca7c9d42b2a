"""Guessing the role of each column of a table from its name and a sample of its values.

A column's guess, the first rule that fits (a column empty in the rows read is ignored):

1. personal information found by the PII detectors → a direct identifier; a resident ID
   is kept as a keyed pseudonym (it identifies the person across rows: the privacy unit);
2. named like a person's name or address, or holding values that look like Chinese
   personal names (`person_names`) → a direct identifier;
3. named like a key, with a different value in every row → the customer key;
4. named like consent, with a value meaning yes → the consent column;
5. named like a label, holding 0 and 1 only → the label;
6. named like a place → a quasi-identifier, dropped after the PII scan;
7. integers with at most `MAX_CODES` distinct values → categorical, with the values found
   as its vocabulary;
8. other numbers → numeric, its bounds left to agree;
9. dates → a quasi-identifier generalized to the year;
10. text with at most `MAX_TEXTS` distinct, repeated values → categorical, its vocabulary
    only the values held by at least `MIN_VALUE_ROWS` rows (a rarer value would tell every
    party that someone holds it; the draft says how many were left out); other text →
    free text, dropped after the PII scan.

A feature named like a demographic attribute (sex, age, marriage, education) is also a
quasi-identifier; an age is generalized to 10-year bands. The table then gets exactly one
customer key and one label where it has candidates (`guess_columns`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd

from fedscore.core.schema import CategoricalEncoding, ColumnSpec, Generalization, Role
from fedscore.datasets.schema_tools.person_names import looks_like_names
from fedscore.privacy.pii import scan_series

#: The most distinct integers a column may hold to be guessed categorical.
MAX_CODES = 20
#: The most distinct texts a column may hold to be guessed categorical.
MAX_TEXTS = 50
#: The fewest rows a text value must be held by to be written into a drafted vocabulary
#: (the default k_min).
MIN_VALUE_ROWS = 5

_KEY = re.compile(
    r"(^|[_.\s])(id|key|no|code)$|^(customer|cust|client|account)([_\s]?(id|key|no|number))?$"
    r"|客户号|编号",
    re.I,
)
_PERSON = re.compile(
    r"^((full|first|last|given|family|customer|client)[_\s]?)?name$|^surname$"
    r"|person|contact[_\s]?name|holder$|nickname|姓名|名字|联系人|持卡人|户名|昵称",
    re.I,
)
_ADDRESS = re.compile(r"address|street|地址|住址", re.I)
_CONSENT = re.compile(r"consent|authori[sz]|permission|授权|同意", re.I)
_LABEL = re.compile(
    r"label|target|default|^bad|outcome|^y$|churn|fraud|response|违约|逾期|标签", re.I
)
_PLACE = re.compile(
    r"province|city|district|county|region|zip|post(al)?_?code|省份|城市|地区|区县|邮编", re.I
)
_DEMOGRAPHIC = re.compile(
    r"^(sex|gender|age|marriage|marital(_status)?|education|occupation|ethnicity)$"
    r"|性别|年龄|婚|学历|职业|民族",
    re.I,
)
_AGE = re.compile(r"^age$|年龄", re.I)
_YES = {"y", "yes", "1", "true", "t", "granted", "是", "同意"}


@dataclass(frozen=True)
class ColumnGuess:
    """The role guessed for one column, and why.

    Attributes:
        spec: the column as a task schema would declare it; a numeric column's bounds
            are not guessed (`spec.numeric` is None until agreed).
        reason: why, in a few words, for the draft's comment.
        values_from_data: the vocabulary (or consent/label values) comes from the data:
            a disclosure to every other party until the consortium agrees it.
    """

    spec: ColumnSpec
    reason: str
    values_from_data: bool = False


def guess_columns(frame: pd.DataFrame) -> list[ColumnGuess]:
    """The role of every column of a table (a sample of its rows), in the table's order.

    At most one customer key and one label: of several candidates the first keeps the
    role, the others become direct identifiers (keys) or categorical features (labels).
    With no key-like column, a resident-ID column is the customer key.

    Args:
        frame: the table as read (`fedscore.core.tabular.read_table`).
    """
    guesses = [_guess(frame[name], str(name)) for name in frame.columns]
    guesses = _one_of(guesses, Role.CUSTOMER_KEY, _as_identifier)
    guesses = _one_of(guesses, Role.LABEL, _as_categorical)
    guesses = _one_of(guesses, Role.CONSENT, _as_categorical)
    if not any(g.spec.role == Role.CUSTOMER_KEY for g in guesses):
        resident = [i for i, g in enumerate(guesses) if g.spec.action == "pseudonymize"]
        if resident:
            guess = guesses[resident[0]]
            spec = ColumnSpec(guess.spec.name, Role.CUSTOMER_KEY)
            guesses[resident[0]] = ColumnGuess(spec, f"{guess.reason}; no other key found")
    return guesses


def _one_of(
    guesses: list[ColumnGuess], role: Role, demote: Callable[[ColumnGuess], ColumnGuess]
) -> list[ColumnGuess]:
    """The first guess of `role` kept; the others demoted."""
    found = [i for i, g in enumerate(guesses) if g.spec.role == role]
    return [demote(g) if i in found[1:] else g for i, g in enumerate(guesses)]


def _as_identifier(guess: ColumnGuess) -> ColumnGuess:
    spec = ColumnSpec(guess.spec.name, Role.DIRECT_IDENTIFIER)
    return ColumnGuess(spec, f"{guess.reason} (another one is the customer key)")


def _as_categorical(guess: ColumnGuess) -> ColumnGuess:
    spec = guess.spec
    values = tuple(v for v in (spec.negative, spec.positive, *spec.refused, *spec.granted) if v)
    integer = all(re.fullmatch(r"-?[0-9]+", v) for v in values)
    encoding = CategoricalEncoding(values, integer_codes=integer)
    return ColumnGuess(
        ColumnSpec(spec.name, Role.CATEGORICAL, categorical=encoding),
        f"{guess.reason} (another one was taken)",
        values_from_data=True,
    )


def _guess(series: pd.Series, name: str) -> ColumnGuess:
    """One column's guess from its own name and values."""
    text = series.astype("string").str.strip().fillna("")
    filled = text[text != ""]
    if filled.empty:
        return ColumnGuess(ColumnSpec(name, Role.IGNORE), "empty in the rows read")
    found = scan_series(series, context=name)
    if found:
        return _identifier(name, max(found, key=lambda detector: found[detector]))
    if _PERSON.search(name) or _ADDRESS.search(name):
        return ColumnGuess(ColumnSpec(name, Role.DIRECT_IDENTIFIER), "named like a name or address")
    distinct = sorted(set(filled.tolist()))
    if looks_like_names(distinct):
        return ColumnGuess(ColumnSpec(name, Role.DIRECT_IDENTIFIER), "values look like names")
    if len(distinct) == len(filled) == len(text) and _KEY.search(name):
        return ColumnGuess(ColumnSpec(name, Role.CUSTOMER_KEY), "named like a key, unique values")
    if _CONSENT.search(name) and len(distinct) <= 3:
        granted = tuple(v for v in distinct if v.lower() in _YES)
        refused = tuple(v for v in distinct if v.lower() not in _YES)
        if granted:
            spec = ColumnSpec(name, Role.CONSENT, granted=granted, refused=refused)
            return ColumnGuess(spec, "named like consent", values_from_data=True)
    codes = _integer_codes(filled)
    if codes is not None and set(codes) <= {0, 1} and _LABEL.search(name):
        spec = ColumnSpec(name, Role.LABEL, positive="1", negative="0")
        return ColumnGuess(spec, "named like a label, values 0 and 1")
    return _feature(name, filled, distinct, codes)


def _identifier(name: str, detector: str) -> ColumnGuess:
    """A column holding personal information found by `detector`."""
    if detector == "resident_id":
        spec = ColumnSpec(name, Role.DIRECT_IDENTIFIER, action="pseudonymize")
        return ColumnGuess(spec, "resident ID numbers: kept as a pseudonym, the privacy unit")
    kind = detector.replace("_", " ")
    return ColumnGuess(ColumnSpec(name, Role.DIRECT_IDENTIFIER), f"{kind} values found")


def _feature(
    name: str, filled: pd.Series, distinct: list[str], codes: list[int] | None
) -> ColumnGuess:
    """A feature, a date, a place or free text, by a column's name and values."""
    if _PLACE.search(name):
        spec = ColumnSpec(name, Role.QUASI_IDENTIFIER, keep=False)
        return ColumnGuess(spec, "named like a place")
    demographic = bool(_DEMOGRAPHIC.search(name))
    if codes is not None and len(codes) <= MAX_CODES:
        encoding = CategoricalEncoding(tuple(map(str, codes)), integer_codes=True)
        return _categorical(name, encoding, demographic, f"{len(codes)} distinct integers")
    if pd.to_numeric(filled, errors="coerce").notna().all():
        spec = ColumnSpec(name, Role.NUMERIC, quasi_identifier=demographic)
        if demographic and _AGE.search(name):
            spec = replace(spec, generalize=Generalization(band=10))
        return ColumnGuess(spec, "numbers" + (", named like a demographic" if demographic else ""))
    if pd.to_datetime(filled, errors="coerce", format="ISO8601").notna().all():
        spec = ColumnSpec(name, Role.QUASI_IDENTIFIER, generalize=Generalization(date_level="year"))
        return ColumnGuess(spec, "dates")
    if len(distinct) <= MAX_TEXTS and len(distinct) < len(filled):
        held = filled.value_counts()
        common = sorted(str(v) for v in held[held >= MIN_VALUE_ROWS].index)
        if common:
            reason = f"{len(distinct)} distinct texts"
            if len(common) < len(distinct):
                rare = len(distinct) - len(common)
                reason += f"; {rare} held by fewer than {MIN_VALUE_ROWS} rows left out"
            encoding = CategoricalEncoding(tuple(common), integer_codes=False)
            return _categorical(name, encoding, demographic, reason)
    return ColumnGuess(ColumnSpec(name, Role.FREE_TEXT, keep=False), "text")


def _categorical(
    name: str, encoding: CategoricalEncoding, demographic: bool, reason: str
) -> ColumnGuess:
    spec = ColumnSpec(name, Role.CATEGORICAL, quasi_identifier=demographic, categorical=encoding)
    reason += ", named like a demographic" if demographic else ""
    return ColumnGuess(spec, reason, values_from_data=True)


def _integer_codes(filled: pd.Series) -> list[int] | None:
    """The distinct values as integers, if every value reads as one ("3", "3.0")."""
    numbers = pd.to_numeric(filled, errors="coerce")
    if numbers.isna().any() or not (numbers == numbers.round()).all():
        return None
    return sorted({int(v) for v in numbers.unique()})
