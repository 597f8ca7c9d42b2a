"""Between the protobuf messages of protos/scoring.proto and fedscore's scoring types."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from fedscore.scoring.grpc_api.generated import scoring_pb2 as pb
from fedscore.scoring.reasons import Reason
from fedscore.scoring.registry import RegisteredModel
from fedscore.scoring.scorer import Scorer, ScoreResult

if TYPE_CHECKING:
    from fedscore.decisions import Decision

#: The fields of a ScoreResult a ScoreReply carries under the same names (all but the reasons).
_SCORE_FIELDS = tuple(
    field.name for field in dataclasses.fields(ScoreResult) if field.name != "reasons"
)


def request_fields(request: pb.ScoreRequest | pb.DecideRequest) -> dict[str, object]:
    """Feature name → value (float, text, or None when the value was left unset)."""
    fields: dict[str, object] = {}
    for name, value in request.features.items():
        kind = value.WhichOneof("kind")
        fields[name] = value.number if kind == "number" else value.text if kind == "text" else None
    return fields


def fields_request(fields: dict[str, object], request_id: str = "") -> pb.ScoreRequest:
    """A request from feature name → value (numbers as numbers, anything else as text)."""
    request = pb.ScoreRequest(request_id=request_id)
    _fill(request, fields)
    return request


def decide_request(fields: dict[str, object], application_id: str = "") -> pb.DecideRequest:
    """A Decide request from feature name → value, as `fields_request` writes them."""
    request = pb.DecideRequest(application_id=application_id)
    _fill(request, fields)
    return request


def _fill(request: pb.ScoreRequest | pb.DecideRequest, fields: dict[str, object]) -> None:
    """Write feature name → value into a request's features (numbers as numbers)."""
    for name, value in fields.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            request.features[name].number = float(value)
        elif value is not None:
            request.features[name].text = str(value)
        else:
            request.features[name].SetInParent()


def reason_codes(reasons: tuple[Reason, ...]) -> list[pb.ReasonCode]:
    """The model's reason codes as messages."""
    return [
        pb.ReasonCode(feature=r.feature, points=r.points, logit_contribution=r.logit_contribution)
        for r in reasons
    ]


def decide_reply(decision: Decision) -> pb.DecideReply:
    """The DecideReply of one decided application (every Decision field, by name)."""
    values = decision.as_dict()
    values.pop("model_reasons")
    if values["annual_rate"] is None:
        values.pop("annual_rate")
    return pb.DecideReply(model_reasons=reason_codes(decision.model_reasons), **values)


def score_reply(result: ScoreResult, request_id: str) -> pb.ScoreReply:
    """The ScoreReply of one scored customer.

    Args:
        result: the customer's score, grade and reasons.
        request_id: the caller's correlation id, echoed ("" for none).
    """
    return pb.ScoreReply(
        request_id=request_id,
        reasons=reason_codes(result.reasons),
        **{name: getattr(result, name) for name in _SCORE_FIELDS},
    )


def model_info(model: RegisteredModel, scorer: Scorer) -> pb.ModelInfoReply:
    """The ModelInfo reply: the served model's version, card, grades and scorecard.

    Args:
        model: the registered model served.
        scorer: its scorer (the scoring configuration applied).
    """
    card = model.card
    scorecard = scorer.config.scorecard
    return pb.ModelInfoReply(
        model_version=card.version,
        task=card.task,
        task_version=card.task_version,
        model=card.model,
        features=list(scorer.records.feature_names),
        grades=[
            pb.Grade(name=band.name, min_score=band.min_score, action=band.action)
            for band in scorer.grades.bands
        ],
        base_score=scorecard.base_score,
        base_odds=scorecard.base_odds,
        pdo=scorecard.pdo,
        model_card_json=json.dumps(card.as_dict(), sort_keys=True),
    )
