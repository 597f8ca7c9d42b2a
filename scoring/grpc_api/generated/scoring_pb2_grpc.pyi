# Type stub of scoring_pb2_grpc.py, written by hand: grpc_tools generates none for the
# gRPC module (`make protos` leaves this file alone). Keep it in step with
# protos/scoring.proto; tests/test_scoring_grpc_stub.py checks that it names what the
# generated module defines.
from collections.abc import Iterator

import grpc

from fedscore.scoring.grpc_api.generated import scoring_pb2

class ScoringStub:
    Score: grpc.UnaryUnaryMultiCallable[scoring_pb2.ScoreRequest, scoring_pb2.ScoreReply]
    ScoreBatch: grpc.StreamStreamMultiCallable[scoring_pb2.ScoreRequest, scoring_pb2.ScoreReply]
    ModelInfo: grpc.UnaryUnaryMultiCallable[
        scoring_pb2.ModelInfoRequest, scoring_pb2.ModelInfoReply
    ]
    Decide: grpc.UnaryUnaryMultiCallable[scoring_pb2.DecideRequest, scoring_pb2.DecideReply]
    def __init__(self, channel: grpc.Channel) -> None: ...

class ScoringServicer:
    def Score(
        self, request: scoring_pb2.ScoreRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.ScoreReply: ...
    def ScoreBatch(
        self, request_iterator: Iterator[scoring_pb2.ScoreRequest], context: grpc.ServicerContext
    ) -> Iterator[scoring_pb2.ScoreReply]: ...
    def ModelInfo(
        self, request: scoring_pb2.ModelInfoRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.ModelInfoReply: ...
    def Decide(
        self, request: scoring_pb2.DecideRequest, context: grpc.ServicerContext
    ) -> scoring_pb2.DecideReply: ...

def add_ScoringServicer_to_server(servicer: ScoringServicer, server: grpc.Server) -> None: ...
