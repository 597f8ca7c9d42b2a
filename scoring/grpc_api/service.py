"""The `fedscore.scoring.v1.Scoring` servicer: scores requests with one registered model."""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from fedscore.scoring.errors import RequestError
from fedscore.scoring.grpc_api.convert import model_info, request_fields, score_reply
from fedscore.scoring.grpc_api.generated import scoring_pb2 as pb
from fedscore.scoring.grpc_api.generated import scoring_pb2_grpc
from fedscore.scoring.registry import RegisteredModel
from fedscore.scoring.scorer import Scorer

#: Trailing metadata key listing the wrong fields of a refused request.
FIELDS_METADATA = "fedscore-fields"


class ScoringService(scoring_pb2_grpc.ScoringServicer):
    """Answers Score, ScoreBatch and ModelInfo.

    Parameters
    ----------
    model : RegisteredModel
        The verified registered model.
    scorer : Scorer
        Its scorer (configuration applied).
    """

    def __init__(self, model: RegisteredModel, scorer: Scorer) -> None:
        self.model = model
        self.scorer = scorer
        self._info = model_info(model, scorer)

    def Score(self, request: pb.ScoreRequest, context: grpc.ServicerContext) -> pb.ScoreReply:
        try:
            result = self.scorer.score_record(request_fields(request))
        except RequestError as error:
            _refuse(context, error, str(error))
        return score_reply(result, request.request_id)

    def ScoreBatch(
        self, request_iterator: Iterator[pb.ScoreRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.ScoreReply]:
        for position, request in enumerate(request_iterator, start=1):
            try:
                result = self.scorer.score_record(request_fields(request))
            except RequestError as error:
                _refuse(
                    context,
                    error,
                    f"request #{position} (request_id '{request.request_id}'): {error}",
                )
            yield score_reply(result, request.request_id)

    def ModelInfo(
        self, request: pb.ModelInfoRequest, context: grpc.ServicerContext
    ) -> pb.ModelInfoReply:
        return self._info


def _refuse(context: grpc.ServicerContext, error: RequestError, message: str) -> None:
    """End the call with INVALID_ARGUMENT naming the wrong fields (never their values)."""
    context.set_trailing_metadata(((FIELDS_METADATA, ",".join(error.fields)),))
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
