"""Score semantics: points, grades, PSI and reason codes against hand-computed values;
the fast record path against the core validation and encoding."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from fedscore.core.artifact import ScoringModel
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import ConfigError, TableValidationError
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.tabular import write_table
from fedscore.core.validation import validate_frame
from fedscore.scoring import Scorer, ScoringConfig, load_scoring_config
from fedscore.scoring.development import DevelopmentProfile
from fedscore.scoring.errors import RequestError
from fedscore.scoring.features import FeatureGroups
from fedscore.scoring.grades import GradeScale
from fedscore.scoring.identifiers import IdentifierGuard
from fedscore.scoring.psi import ScoreDistribution, ScoreHistogram, population_stability_index
from fedscore.scoring.record import RecordEncoder
from fedscore.scoring.scorecard import Scorecard

LABEL = "default.payment.next.month"


def test_default_scorecard_matches_hand_computed_points():
    card = Scorecard.from_config(load_scoring_config().scorecard)
    # factor = 20 / ln 2; offset = 600 − factor · ln 50 (50:1 good:bad at 600 points).
    assert card.factor == pytest.approx(28.853900817779268, abs=1e-12)
    assert card.offset == pytest.approx(487.1228762045055, abs=1e-9)
    # PD 1/51 is good:bad 50:1 → 600; 1/101 is 100:1 → 620; 1/26 is 25:1 → 580.
    for pd_, points in [(1 / 51, 600.0), (1 / 101, 620.0), (1 / 26, 580.0), (0.5, 487.1228762)]:
        assert card.points_from_probability(pd_) == pytest.approx(points, abs=1e-6)
    # PD 20 %: odds 0.25 → 487.1229 + 28.8539 · ln 4 = 527.1229.
    assert card.points_from_probability(0.2) == pytest.approx(527.1228762, abs=1e-6)


def test_configured_scorecard_base_odds_and_pdo(tmp_path):
    path = tmp_path / "scoring.toml"
    path.write_text("[scorecard]\nbase_score = 500\nbase_odds = 20\npdo = 40\n", encoding="utf-8")
    card = Scorecard.from_config(ScoringConfig.from_toml(path).scorecard)
    assert card.points_from_probability(1 / 21) == pytest.approx(500.0)  # 20:1
    assert card.points_from_probability(1 / 41) == pytest.approx(540.0)  # 40:1, +PDO
    assert card.points_from_probability(1 / 11) == pytest.approx(460.0)  # 10:1, −PDO


def test_default_grades_and_actions_at_cut_offs():
    scale = GradeScale(load_scoring_config().grades)
    scores = np.array([700.0, 552.0, 551.99, 530.0, 529.99, 505.0, 504.99, 300.0])
    assert [scale.names[i] for i in scale.index(scores)] == list("AABBCCDD")
    assert scale.band(560).action == "eligible for line increase / rate discount"
    assert scale.band(540).action == "normal management"
    assert scale.band(510).action == "watch list"
    assert scale.band(400).action == "high-frequency monitoring and outreach"


def test_grade_cut_offs_from_toml(tmp_path):
    path = tmp_path / "grades.toml"
    path.write_text(
        '[[grades]]\nname = "low"\nmin_score = 600\naction = "grow"\n'
        '[[grades]]\nname = "high"\naction = "collect"\n',
        encoding="utf-8",
    )
    scale = GradeScale(ScoringConfig.from_toml(path).grades)
    assert scale.band(600).name == "low"
    assert scale.band(599.9).name == "high"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[grades]]\nname = "A"\nmin_score = 500\naction = "x"\n'
            '[[grades]]\nname = "B"\nmin_score = 600\naction = "y"\n'
            '[[grades]]\nname = "C"\naction = "z"\n',
            "fall strictly",
        ),
        (
            '[[grades]]\nname = "A"\nmin_score = 500\naction = "x"\n'
            '[[grades]]\nname = "B"\nmin_score = 400\naction = "y"\n',
            "takes no min_score",
        ),
        ("[scorecard]\npdo = 0\n", "pdo: Input should be greater than 0"),
        ("[scorecard]\nbase_odds = 50\nbogus = 1\n", "bogus"),
    ],
)
def test_bad_scoring_configuration_is_refused(tmp_path, toml, message):
    path = tmp_path / "bad.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        ScoringConfig.from_toml(path)


CONFIG_MISTAKES = {
    "misspelt key": ("[scorecard]\npdp = 20\n", ["pdp", "did you mean 'pdo'"]),
    "misspelt section": ("[scorcard]\npdo = 20\n", ["scorcard", "did you mean 'scorecard'"]),
    "number as text": ('[scorecard]\npdo = "20"\n', ["pdo", "valid number"]),
    "integer as text": ('[reasons]\ntop = "3"\n', ["top", "valid integer"]),
    "not finite": ("[psi]\nwarn_above = inf\n", ["warn_above", "finite number"]),
    "missing key": (
        '[[grades]]\nname = "A"\nmin_score = 550\n[[grades]]\nname = "B"\naction = "y"\n',
        ["grades", "0.action", "required"],
    ),
    "unknown reason method": ('[reasons]\nmethod = "shap"\n', ["method", "exact_linear"]),
}


@pytest.mark.parametrize(("toml", "words"), CONFIG_MISTAKES.values(), ids=CONFIG_MISTAKES.keys())
def test_scoring_config_errors_name_file_key_path_and_rule(tmp_path, toml, words):
    path = tmp_path / "scoring.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scoring_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 1 invalid setting"), message
    for word in words:
        assert word in message, (word, message)
    assert "__init__" not in message and "Traceback" not in message


def test_a_string_is_never_a_number_nor_a_list_of_grades():
    with pytest.raises(ConfigError, match="grades"):
        ScoringConfig.from_mapping({"grades": "A"}, source="inline")
    assert load_scoring_config() == ScoringConfig()  # the bundled file is the default


def test_psi_matches_hand_computed_value():
    # (0.6 − 0.5)·ln(0.6/0.5) + (0.4 − 0.5)·ln(0.4/0.5) = 0.0405465
    assert population_stability_index([0.5, 0.5], [0.6, 0.4]) == pytest.approx(
        0.1 * math.log(1.2) - 0.1 * math.log(0.8), abs=1e-12
    )
    scores = np.random.default_rng(0).normal(530, 20, 10_000)
    reference = ScoreDistribution.from_scores(scores, 10)
    assert np.allclose(reference.shares, 0.1)
    same = ScoreHistogram(reference)
    for chunk in np.array_split(scores, 7):
        same.add(chunk)
    assert same.psi() == pytest.approx(0.0, abs=1e-12)
    shifted = ScoreHistogram(reference)
    shifted.add(scores - 25)
    assert shifted.psi() > 0.25


def _scorer(schema, market, tmp_path, model_name: str) -> tuple[Scorer, ScoringModel]:
    """A real model of the library with fixed random weights, profiled on real rows."""
    n_features = FeatureEncoder(schema).n_features
    torch_model = build_model(ModelSpec(model_name, n_features, (16, 8)))
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for parameter in torch_model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    model = ScoringModel.of_module(torch_model, schema, RunConfig(model=model_name, hidden=(16, 8)))
    development = tmp_path / "development.csv"
    write_table(market.consortium_test.head(1000), development)
    config = load_scoring_config()
    profile = DevelopmentProfile.build(model, development, config)
    return Scorer(model, "test-v1", profile, config), model


def _customers(schema, market, rows: slice) -> list[dict[str, object]]:
    """The applications of the consortium test's `rows`: the task's features only."""
    features = [column.name for column in schema.features]
    return market.consortium_test.iloc[rows][features].to_dict("records")


def test_lr_reason_codes_equal_exact_contributions(schema, market, tmp_path):
    scorer, model = _scorer(schema, market, tmp_path, "lr")
    weights = model.model[0].weight.detach().double().numpy().reshape(-1)
    bias = float(model.model[0].bias.detach())
    baseline = np.asarray(scorer.profile.baseline)
    groups = FeatureGroups.of(schema)
    factor = 20 / math.log(2)
    for customer in _customers(schema, market, slice(1000, 1040)):
        row = pd.DataFrame([customer])
        x = (
            FeatureEncoder(schema)
            .transform(validate_frame(row, scorer.schema, model_columns_only=True))[0]
            .astype(np.float64)
        )
        # Hand: w_j (x_j − b_j) per encoded column, summed over each raw feature's columns.
        exact = {name: 0.0 for name in groups.names}
        for j, owner in enumerate(groups.owner):
            exact[groups.names[owner]] += weights[j] * (x[j] - baseline[j])
        # The contributions add up to the logit's distance from the baseline's logit.
        logit = weights @ x + bias
        assert sum(exact.values()) == pytest.approx(logit - (weights @ baseline + bias), abs=1e-9)
        result = scorer.score_record(customer)
        expected = sorted(((v, k) for k, v in exact.items() if v > 0), reverse=True)[:3]
        assert [r.feature for r in result.reasons] == [k for _, k in expected]
        for reason, (value, _) in zip(result.reasons, expected, strict=True):
            assert reason.logit_contribution == pytest.approx(value, rel=1e-5, abs=1e-7)
            assert reason.points == pytest.approx(factor * value, rel=1e-5, abs=1e-6)
        assert result.probability_of_default == pytest.approx(1 / (1 + math.exp(-logit)), rel=1e-5)
        assert result.score == pytest.approx(scorer.scorecard.offset - factor * logit, abs=1e-3)
        assert result.model_version == "test-v1"


def test_mlp_integrated_gradients_add_up_to_the_logit(schema, market, tmp_path):
    scorer, model = _scorer(schema, market, tmp_path, "mlp")
    customers = _customers(schema, market, slice(1000, 1020))
    x = np.stack([scorer.records.encode(c) for c in customers])
    contributions = scorer.attribution(x)
    with torch.no_grad():
        logits = model.model(torch.from_numpy(x)).squeeze(-1).double().numpy()
        base = float(model.model(torch.tensor([scorer.profile.baseline], dtype=torch.float32)))
    gap = logits - base
    assert np.allclose(contributions.sum(axis=1), gap, atol=0.02 * np.abs(gap).max() + 1e-3)


def test_record_encoder_matches_core_encoding_on_real_customers(schema, market):
    table = market.consortium_test
    expected = FeatureEncoder(schema).transform(
        validate_frame(table, schema, model_columns_only=True)
    )
    encoder = RecordEncoder(schema)
    got = np.stack([encoder.encode(row) for row in table.to_dict("records")])
    assert np.array_equal(got, expected)
    # Text cells (as a CSV holds them) encode the same.
    text_row = {k: str(v) for k, v in table.iloc[0].to_dict().items()}
    assert np.array_equal(encoder.encode(text_row), expected[0])


@pytest.mark.parametrize(
    ("column", "value"),
    [("AGE", "forty"), ("PAY_0", 9), ("EDUCATION", "7"), ("LIMIT_BAL", ""), ("SEX", None)],
)
def test_record_errors_are_the_core_validation_errors(schema, market, column, value):
    row = market.consortium_test.iloc[[0]].astype(object).copy()
    row[column] = value
    with pytest.raises(TableValidationError) as core:
        validate_frame(row, schema, model_columns_only=True)
    with pytest.raises(RequestError) as fast:
        RecordEncoder(schema).encode(row.iloc[0].to_dict())
    assert [(p.field, p.problem) for p in fast.value.problems] == [
        (p.column, p.problem) for p in core.value.problems
    ]


def test_a_nan_is_a_wrong_value_not_a_missing_one(schema, market):
    customer = market.consortium_test.iloc[0].to_dict()
    with pytest.raises(RequestError) as caught:
        RecordEncoder(schema).encode({**customer, "BILL_AMT1": float("nan")})
    assert [(p.field, p.problem) for p in caught.value.problems] == [
        ("BILL_AMT1", "wrong type: expected a finite number")
    ]


def test_identifiers_rounded_by_a_double_are_still_found(schema, market):
    guard = IdentifierGuard(schema)
    people = market.parties["large_bank"].head(300)
    for id_number in people["id_number"]:
        # A number cannot carry the check character X: such an ID arrives without it.
        value = float(id_number[:17] if id_number.endswith("X") else id_number)
        assert guard.identifier_in("BILL_AMT1", value) == "resident_id", id_number
    for card in people["card_number"]:
        assert guard.identifier_in("BILL_AMT1", float(card)) == "bank_card", card
    for amount in (0.0, 250_000.0, -5e5, 9_999_999_999.0, 0.5, float("inf"), float("nan")):
        assert guard.identifier_in("BILL_AMT1", amount) is None
