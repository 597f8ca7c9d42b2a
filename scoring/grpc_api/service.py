"""The `fedscore.scoring.v1.Scoring` servicer: scores requests with one registered model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import quote

import grpc

from fedscore.scoring.errors import RequestError
from fedscore.scoring.grpc_api.convert import (
    decide_reply,
    model_info,
    request_fields,
    score_reply,
)
from fedscore.scoring.grpc_api.generated import scoring_pb2 as pb
from fedscore.scoring.grpc_api.generated import scoring_pb2_grpc
from fedscore.scoring.identifiers import IdentifierGuard, correlation_id_problem
from fedscore.scoring.registry import RegisteredModel
from fedscore.scoring.scorer import Scorer

if TYPE_CHECKING:
    from fedscore.decisions import Decider

#: Trailing metadata key listing the wrong fields of a refused request.
FIELDS_METADATA = "fedscore-fields"
#: What a metadata value may hold as it is; anything else is percent-encoded (UTF-8).
_METADATA_SAFE = "".join(chr(code) for code in range(0x20, 0x7F) if chr(code) not in ",%")


class ScoringService(scoring_pb2_grpc.ScoringServicer):
    """Answers Score, ScoreBatch, ModelInfo and Decide.

    Args:
        model: The verified registered model.
        scorer: Its scorer (configuration applied).
        decider: The decision strategy Decide applies (its scorer is `scorer`); None: Decide
            answers FAILED_PRECONDITION.
    """

    def __init__(
        self, model: RegisteredModel, scorer: Scorer, decider: Decider | None = None
    ) -> None:
        self.model = model
        self.scorer = scorer
        self.decider = decider
        self._info = model_info(model, scorer)

    def Score(self, request: pb.ScoreRequest, context: grpc.ServicerContext) -> pb.ScoreReply:
        problem = request_id_problem(request.request_id, self.scorer.guard)
        if problem is not None:
            _refuse(context, ["request_id"], problem)
        try:
            result = self.scorer.score_record(request_fields(request))
        except RequestError as error:
            _refuse(context, error.fields, str(error))
        return score_reply(result, request.request_id)

    def ScoreBatch(
        self, request_iterator: Iterator[pb.ScoreRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.ScoreReply]:
        for position, request in enumerate(request_iterator, start=1):
            problem = request_id_problem(request.request_id, self.scorer.guard)
            if problem is not None:
                _refuse(context, ["request_id"], f"request #{position}: {problem}")
            try:
                result = self.scorer.score_record(request_fields(request))
            except RequestError as error:
                _refuse(
                    context,
                    error.fields,
                    f"request #{position} (request_id '{request.request_id}'): {error}",
                )
            yield score_reply(result, request.request_id)

    def ModelInfo(
        self, request: pb.ModelInfoRequest, context: grpc.ServicerContext
    ) -> pb.ModelInfoReply:
        return self._info

    def Decide(self, request: pb.DecideRequest, context: grpc.ServicerContext) -> pb.DecideReply:
        if self.decider is None:
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                "this server has no decision strategy: start it with one (--strategy)",
            )
            raise AssertionError("unreachable: abort raises")  # pragma: no cover
        try:
            decision = self.decider.decide(request_fields(request), request.application_id)
        except RequestError as error:
            _refuse(context, error.fields, str(error))
        return decide_reply(decision)


def request_id_problem(request_id: str, guard: IdentifierGuard) -> str | None:
    """Why a request_id cannot be accepted (and so never echoed), or None.

    Args:
        request_id: the caller's correlation id as sent ("" for none).
        guard: the identifier checks of the served task.
    """
    problem = correlation_id_problem(request_id, guard)
    return None if problem is None else f"request_id: {problem}"


def _refuse(context: grpc.ServicerContext, fields: list[str], message: str) -> NoReturn:
    """End the call with INVALID_ARGUMENT naming the wrong fields (never their values).

    Args:
        context: the call.
        fields: the wrong fields as errors name them (names that may be shown, "#N");
            in the trailer, a task's non-ASCII feature name is percent-encoded (gRPC
            metadata is ASCII).
        message: the error, naming every problem.
    """
    listed = ",".join(quote(name, safe=_METADATA_SAFE) for name in fields)
    context.set_trailing_metadata(((FIELDS_METADATA, listed),))
    context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover
