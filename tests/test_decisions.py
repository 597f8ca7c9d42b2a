"""Decision strategies: rules parsed and checked at load (never eval'ed), decisions against
hand-computed cases, the vectorized frame path against the one-application path, and the
champion/challenger split."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from decision_support import (
    customers,
    default_document,
    good_customer,
    lr_scorer,
    write_strategy,
)

from fedscore.core.errors import ConfigError
from fedscore.decisions import Decider
from fedscore.decisions.split import Split, unit_hash
from fedscore.decisions.strategies import default_strategy_path
from fedscore.scoring.errors import RequestError

DECISIONS = Path(__file__).resolve().parents[1] / "decisions"


@pytest.fixture(scope="module")
def scorers(schema, market, tmp_path_factory):
    """LR scorers whose every customer has PD 10 % (550.5 points, B), 30 % (511.6, C), 60 %;
    and one with fixed random weights."""
    made = {}
    for pd in (0.1, 0.3, 0.6, None):
        made[pd] = lr_scorer(schema, market, tmp_path_factory.mktemp("scorer"), pd)
    return made


def _decider(scorer, tmp_path, change=None) -> Decider:
    document = default_document()
    del document["challenger"]
    if change:
        change(document)
    return Decider.load(scorer, write_strategy(document, tmp_path))


def _load_error(scorer, tmp_path, change) -> str:
    with pytest.raises(ConfigError) as error:
        _decider(scorer, tmp_path, change)
    return str(error.value)


# -- loading: every problem named by file, rule and position ---------------------------


def test_the_bundled_strategy_and_its_challenger_load(scorers):
    decider = Decider.load(scorers[0.1], default_strategy_path())
    champion, challenger = decider.strategy.champion, decider.strategy.challenger
    assert champion.info.name == "cards_default" and challenger.info.name == "cards_wider_b"
    assert [r.name for r in champion.rules.rules][:2] == [
        "two_or_more_months_behind",
        "age_outside_product_range",
    ]
    assert decider.strategy.split == Split(0.10, "cards-2026-11")


def _set_rule(table: str, index: int, when: str):
    def change(document):
        document[table][index]["when"] = when

    return change


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            _set_rule("hard_rules", 0, "PAY0 >= 2"),
            "[[hard_rules]] #1 'two_or_more_months_behind' when, column 1: unknown field 'PAY0' "
            "(did you mean 'PAY_0'?)",
        ),
        (
            _set_rule("hard_rules", 1, "AGE < 22 or AGE == 'old'"),
            "[[hard_rules]] #2 'age_outside_product_range' when, column 13: type mismatch: "
            "'old' is text, and '==' compares numbers",
        ),
        (
            _set_rule("soft_rules", 0, "EDUCATION == 9"),
            "[[soft_rules]] #1 'late_in_recent_months' when, column 1: 9 is not a category of "
            "'EDUCATION' (allowed: 0, 1, 2, 3, 4, 5, 6)",
        ),
        (
            _set_rule("soft_rules", 1, "grade < 'C'"),
            "'grade' is a category ('A', 'B', 'C', 'D'): compare it with ==, != or in",
        ),
        (
            _set_rule("hard_rules", 2, "AGE < 20 and AGE > 70"),
            "[[hard_rules]] #3 'very_high_pd' when, column 1: can never fire",
        ),
        (_set_rule("hard_rules", 2, "PAY_0 > 8"), "#3 'very_high_pd' when, column 1: can never"),
        (_set_rule("hard_rules", 2, "pd > 1"), "can never fire"),
        (
            _set_rule("hard_rules", 0, "true"),
            "[[hard_rules]] #2 'age_outside_product_range': unreachable: [[hard_rules]] #1 "
            "'two_or_more_months_behind' before it always fires and decides",
        ),
        (
            _set_rule("hard_rules", 0, "AGE + 1"),
            "must be a condition (true or false), not a number",
        ),
        (_set_rule("hard_rules", 0, "PAY_0 + 1 > 2"), "'PAY_0' is a category"),
        (_set_rule("hard_rules", 0, "AGE.real > 1"), "not allowed in a rule: attribute access"),
        (_set_rule("hard_rules", 0, "AGE >"), "when, column 6: not an expression: it ends too"),
        (_set_rule("hard_rules", 0, "AGE > > 2"), "when, column 7: not an expression"),
        (
            lambda d: d["limit"]["multiplier"].pop("D"),
            "[limit] multiplier: every grade needs one entry (missing: ['D'])",
        ),
        (lambda d: d["pricing"][2]["grades"].remove("D"), "[[pricing]] grades: every grade"),
        (lambda d: d["hard_rules"][0].update(grade="E"), "unknown grade 'E'"),
        (lambda d: d["strategy"].update(task="other"), "[strategy] task: 'other' is not"),
        (lambda d: d["limit"].update(base="PAY_0 >= 2"), "[limit] base, column 1: must give"),
    ],
)
def test_strategy_problems_name_file_rule_and_position(scorers, tmp_path, change, words):
    message = _load_error(scorers[0.1], tmp_path, change)
    assert message.startswith(str(tmp_path / "strategy.toml")), message
    assert words in message, message


def test_every_problem_is_reported_at_once(scorers, tmp_path):
    def change(document):
        document["hard_rules"][0]["when"] = "PAY0 >= 2"
        document["soft_rules"][0]["when"] = "EDUCATION == 9"

    message = _load_error(scorers[0.1], tmp_path, change)
    assert "2 problems" in message and "#1 'two_or_more" in message and "EDUCATION" in message


def test_keys_and_types_are_checked_strictly(scorers, tmp_path):
    message = _load_error(scorers[0.1], tmp_path, lambda d: d["cutoffs"].update(aprove=1.0))
    assert "[cutoffs] aprove: unknown setting" in message
    message = _load_error(scorers[0.1], tmp_path, lambda d: d["limit"].update(step="1000"))
    assert "[limit] step" in message


def test_code_in_a_rule_is_refused_never_run(scorers, tmp_path):
    canary = tmp_path / "ran"
    for when in (
        f"__import__('os').system('touch {canary}')",
        f"open('{canary}', 'w')",
        "(lambda: 1)() > 0",
        "[x for x in ()] == 1",
    ):
        message = _load_error(scorers[0.1], tmp_path, _set_rule("hard_rules", 0, when))
        assert "not allowed in a rule" in message, message
    assert not canary.exists()


def test_the_decisions_package_never_calls_eval_exec_or_compile():
    for path in DECISIONS.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        called = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not called & {"eval", "exec", "compile", "__import__"}, path


# -- decisions against hand-computed cases ------------------------------------------------
# PD 10 %: score = 487.1229 + 28.8539 · ln 9 = 550.52 points, grade B (530 ≤ s < 552).
# Limit: base = LIMIT_BAL · (1 − pd), maximum = base · multiplier[grade] rounded down to
# 1000, minimum = 20 % of the maximum rounded down to 1000, at least 5000.


def _decide(scorers, tmp_path, pd=0.1, **fields):
    return _decider(scorers[pd], tmp_path).decide({**good_customer(), **fields}, "app-1")


def test_a_good_application_is_approved_with_limit_and_price(scorers, tmp_path):
    decision = _decide(scorers, tmp_path)
    assert decision.score == pytest.approx(487.1228762 + 20 / math.log(2) * math.log(9))
    assert (decision.outcome, decision.grade, decision.score_grade) == ("approve", "B", "B")
    # 100000 · 0.9 · 1.2 = 108000; 20 % = 21600 → 21000.
    assert (decision.limit_min, decision.limit_max) == (21000.0, 108000.0)
    assert (decision.pricing_tier, decision.annual_rate) == ("standard", 0.1299)
    assert decision.instalments == (3, 6, 12)
    assert decision.fired_rules == () and decision.reason_codes == ()
    assert (decision.model_version, decision.strategy, decision.strategy_version) == (
        "test-v1",
        "cards_default",
        "2026.11-1",
    )
    assert decision.arm == "champion" and decision.application_id == "app-1"


def test_limits_are_rounded_down_to_the_product_step(scorers, tmp_path):
    # 123456 · 0.9 · 1.2 = 133332.48 → 133000; 20 % = 26666.5 → 26000.
    decision = _decide(scorers, tmp_path, LIMIT_BAL=123456)
    assert (decision.limit_min, decision.limit_max) == (26000.0, 133000.0)
    # 4000 · 0.9 · 1.2 = 4320 → 4000, below the product's 5000: declined.
    decision = _decide(scorers, tmp_path, LIMIT_BAL=4000, BILL_AMT1=1000)
    assert decision.outcome == "decline" and decision.limit_max == 0.0
    assert decision.fired_rules == ("limit_below_product_min",) and decision.reason_codes == (
        "L01",
    )
    # 5000 · 0.9 · 1.2 = 5400 → 5000 (the minimum: 1000, raised to the product's 5000).
    decision = _decide(scorers, tmp_path, LIMIT_BAL=5000, BILL_AMT1=1000)
    assert (decision.outcome, decision.limit_min, decision.limit_max) == (
        "approve",
        5000.0,
        5000.0,
    )


def test_a_weak_rule_caps_the_grade_and_so_limit_and_price(scorers, tmp_path):
    decision = _decide(scorers, tmp_path, PAY_2=1)
    assert (decision.outcome, decision.grade, decision.score_grade) == ("approve", "C", "B")
    # 100000 · 0.9 · 0.8 = 72000; 20 % = 14400 → 14000; grade C prices "watch".
    assert (decision.limit_min, decision.limit_max) == (14000.0, 72000.0)
    assert (decision.pricing_tier, decision.annual_rate, decision.instalments) == (
        "watch",
        0.1799,
        (3, 6),
    )
    assert decision.fired_rules == ("late_in_recent_months",) and decision.reason_codes == ("S01",)
    assert decision.action == "watch list"


def test_a_weak_rule_refers_with_an_indicative_offer(scorers, tmp_path):
    decision = _decide(scorers, tmp_path, BILL_AMT1=150000)
    assert (decision.outcome, decision.grade) == ("refer", "B")
    assert decision.limit_max == 108000.0 and decision.fired_rules == ("bill_above_limit",)


def test_strong_rules_decline_and_every_fired_rule_is_listed(scorers, tmp_path):
    decision = _decide(scorers, tmp_path, PAY_0=2)
    assert (decision.outcome, decision.grade, decision.score_grade) == ("decline", "D", "B")
    assert decision.fired_rules == ("two_or_more_months_behind",)
    assert decision.reason_codes == ("H01",)
    assert (decision.limit_min, decision.limit_max, decision.pricing_tier) == (0.0, 0.0, "")
    assert decision.annual_rate is None and decision.instalments == ()
    both = _decide(scorers, tmp_path, PAY_0=3, AGE=70, PAY_3=2)
    assert both.fired_rules == (
        "two_or_more_months_behind",
        "age_outside_product_range",
        "late_in_recent_months",
    )
    assert both.reason_codes == ("H01", "H02", "S01")


def test_score_cut_offs_refer_and_decline(scorers, tmp_path):
    # PD 30 %: 487.1229 + 28.8539 · ln(7/3) = 511.57 points: C, referred.
    decision = _decide(scorers, tmp_path, pd=0.3, LIMIT_BAL=101000)
    assert (decision.outcome, decision.grade) == ("refer", "C")
    assert decision.fired_rules == ("score_below_approve_min",)
    assert decision.reason_codes == ("SCORE_REFER",)
    # 101000 · 0.7 · 0.8 = 56560 → 56000; 11312 → 11000.
    assert (decision.limit_min, decision.limit_max) == (11000.0, 56000.0)
    # PD 60 %: the hard rule pd >= 0.5 declines first (grade D).
    decision = _decide(scorers, tmp_path, pd=0.6)
    assert (decision.outcome, decision.grade) == ("decline", "D")
    assert decision.fired_rules == ("very_high_pd",)


# -- the frame path, the split, the input rules ----------------------------------------


def test_decide_frame_equals_one_application_at_a_time(scorers, market, schema, tmp_path):
    scorer = scorers[None]
    decider = Decider.load(scorer, default_strategy_path())
    frame = market.consortium_test.iloc[400:700][[c.name for c in schema.features]]
    ids = np.array([f"app-{i}" for i in range(len(frame))])
    scores = scorer.score_features(scorer.encode_frame(frame, "test"))
    arrays = decider.decide_frame({c: frame[c].to_numpy() for c in frame.columns}, scores, ids)
    import pyarrow as pa

    from_arrow = decider.decide_frame(pa.Table.from_pandas(frame), scores, ids)
    assert np.array_equal(from_arrow.outcome, arrays.outcome)
    outcomes = ("approve", "refer", "decline")
    for row, fields in enumerate(customers(market, schema, slice(400, 700))):
        one = decider.decide(fields, str(ids[row]))
        assert one.outcome == outcomes[arrays.outcome[row]], row
        assert one.grade == scorer.grades.names[arrays.grade[row]]
        assert (one.limit_min, one.limit_max) == (arrays.limit_min[row], arrays.limit_max[row])
        assert one.arm == ("champion", "challenger")[arrays.arm[row]]
        fired = [arrays.rule_names[j] for j in np.flatnonzero(arrays.fired[row])]
        assert tuple(fired) == one.fired_rules
    assert set(np.unique(arrays.outcome)) == {0, 1, 2}


def test_the_split_is_deterministic_recorded_and_near_its_share(scorers, tmp_path):
    split = Split(0.10, "cards-2026-11")
    ids = np.array([f"application-{i:06d}" for i in range(10_000)])
    arms = split.arms(ids)
    assert np.array_equal(arms, split.arms(ids))
    # Binomial(10000, 0.1): sd 30; 4.5 sd either side.
    assert 865 <= arms.sum() <= 1135
    assert not np.array_equal(arms, Split(0.10, "another-salt").arms(ids))
    assert np.array_equal(
        unit_hash(ids[:3], "s"), [unit_hash(ids[i : i + 1], "s")[0] for i in range(3)]
    )
    decider = Decider.load(scorers[0.1], default_strategy_path())
    for i in np.flatnonzero(arms)[:5].tolist() + np.flatnonzero(arms == 0)[:5].tolist():
        decision = decider.decide(good_customer(), str(ids[i]))
        assert decision.arm == ("champion", "challenger")[arms[i]]
        expected = ("cards_default", "cards_wider_b")[arms[i]]
        assert decision.strategy == expected
    assert decider.decide(good_customer()).arm == "champion"  # no id: the champion


def test_identifiers_and_bad_fields_are_refused_naming_the_field(scorers):
    decider = Decider.load(scorers[0.1], default_strategy_path())
    with pytest.raises(RequestError) as error:
        decider.decide(good_customer(), application_id="13912345678")
    assert error.value.fields == ["application_id"] and "13912345678" not in str(error.value)
    with pytest.raises(RequestError) as error:
        decider.decide({**good_customer(), "AGE": "thirty"})
    assert error.value.fields == ["AGE"] and "thirty" not in str(error.value)
    with pytest.raises(RequestError) as error:
        decider.decide({**good_customer(), "id_number": "11010519491231002X"})
    assert error.value.fields == ["id_number"]
