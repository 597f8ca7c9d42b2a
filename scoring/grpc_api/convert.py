"""Between the protobuf messages of protos/scoring.proto and fedscore's scoring types."""

from __future__ import annotations

import dataclasses
import json

from fedscore.scoring.grpc_api.generated import scoring_pb2 as pb
from fedscore.scoring.registry import RegisteredModel
from fedscore.scoring.scorer import Scorer, ScoreResult

#: The fields of a ScoreResult a ScoreReply carries under the same names (all but the reasons).
_SCORE_FIELDS = tuple(
    field.name for field in dataclasses.fields(ScoreResult) if field.name != "reasons"
)


def request_fields(request: pb.ScoreRequest) -> dict[str, object]:
    """Feature name → value (float, text, or None when the value was left unset)."""
    fields: dict[str, object] = {}
    for name, value in request.features.items():
        kind = value.WhichOneof("kind")
        fields[name] = value.number if kind == "number" else value.text if kind == "text" else None
    return fields


def fields_request(fields: dict[str, object], request_id: str = "") -> pb.ScoreRequest:
    """A request from feature name → value (numbers as numbers, anything else as text)."""
    request = pb.ScoreRequest(request_id=request_id)
    for name, value in fields.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            request.features[name].number = float(value)
        elif value is not None:
            request.features[name].text = str(value)
        else:
            request.features[name].SetInParent()
    return request


def score_reply(result: ScoreResult, request_id: str) -> pb.ScoreReply:
    """The ScoreReply of one scored customer.

    Args:
        result: the customer's score, grade and reasons.
        request_id: the caller's correlation id, echoed ("" for none).
    """
    return pb.ScoreReply(
        request_id=request_id,
        reasons=[
            pb.ReasonCode(
                feature=r.feature, points=r.points, logit_contribution=r.logit_contribution
            )
            for r in result.reasons
        ],
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
