# Type stub of vertical_scoring_pb2_grpc.py, written by hand: grpc_tools generates none
# for the gRPC module (`make protos` leaves this file alone). Keep it in step with
# protos/vertical_scoring.proto; tests/test_vertical_scoring.py checks that it names what
# the generated module defines.
import grpc

from fedscore.vertical.scoring.generated import vertical_scoring_pb2

class PartialScoreStub:
    Contribution: grpc.UnaryUnaryMultiCallable[
        vertical_scoring_pb2.ContributionRequest, vertical_scoring_pb2.ContributionReply
    ]
    Contributions: grpc.UnaryUnaryMultiCallable[
        vertical_scoring_pb2.ContributionsRequest, vertical_scoring_pb2.ContributionsReply
    ]
    def __init__(self, channel: grpc.Channel) -> None: ...

class PartialScoreServicer:
    def Contribution(
        self, request: vertical_scoring_pb2.ContributionRequest, context: grpc.ServicerContext
    ) -> vertical_scoring_pb2.ContributionReply: ...
    def Contributions(
        self, request: vertical_scoring_pb2.ContributionsRequest, context: grpc.ServicerContext
    ) -> vertical_scoring_pb2.ContributionsReply: ...

def add_PartialScoreServicer_to_server(
    servicer: PartialScoreServicer, server: grpc.Server
) -> None: ...
