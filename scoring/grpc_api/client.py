"""A client of the scoring service over TLS (used by tests, benchmarks and notebooks)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from fedscore.scoring.grpc_api.convert import decide_request, fields_request
from fedscore.scoring.grpc_api.generated import scoring_pb2 as pb
from fedscore.scoring.grpc_api.generated import scoring_pb2_grpc


class ScoringClient:
    """A TLS channel to `fedscore serve`.

    Args:
        address: host:port of the service.
        root_certificates: The CA certificate (PEM) the server's certificate is signed by.
        certificate, private_key: The client's own certificate and key, for a server
            that requires mutual TLS.
    """

    def __init__(
        self,
        address: str,
        root_certificates: Path,
        certificate: Path | None = None,
        private_key: Path | None = None,
    ) -> None:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=root_certificates.read_bytes(),
            private_key=private_key.read_bytes() if private_key else None,
            certificate_chain=certificate.read_bytes() if certificate else None,
        )
        self.channel = grpc.secure_channel(address, credentials)
        self.stub = scoring_pb2_grpc.ScoringStub(self.channel)
        self.health_stub = health_pb2_grpc.HealthStub(self.channel)

    def __enter__(self) -> ScoringClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def score(
        self, fields: dict[str, object], request_id: str = "", timeout: float = 10
    ) -> pb.ScoreReply:
        """Score one customer (feature name → value)."""
        return self.stub.Score(fields_request(fields, request_id), timeout=timeout)

    def score_stream(
        self, customers: Iterable[dict[str, object]], timeout: float | None = None
    ) -> Iterator[pb.ScoreReply]:
        """Score customers over one ScoreBatch stream; request ids are their positions."""
        requests = (fields_request(f, str(i)) for i, f in enumerate(customers, start=1))
        return iter(self.stub.ScoreBatch(requests, timeout=timeout))

    def decide(
        self, fields: dict[str, object], application_id: str = "", timeout: float = 10
    ) -> pb.DecideReply:
        """Decide one application (feature name → value) with the server's strategy.

        Args:
            fields: the application's feature fields.
            application_id: the caller's application id (never a personal identifier).
            timeout: seconds to wait for the reply.
        """
        return self.stub.Decide(decide_request(fields, application_id), timeout=timeout)

    def model_info(self, timeout: float = 10) -> pb.ModelInfoReply:
        return self.stub.ModelInfo(pb.ModelInfoRequest(), timeout=timeout)

    def health(self, service: str = "", timeout: float = 10) -> str:
        """The health status name of `service` ("" for the whole server): "SERVING"..."""
        reply = self.health_stub.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
        # grpc-stubs types grpc_health's modules as Any; Name() gives the status's name.
        status: str = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return status

    def wait_ready(self, timeout: float = 30) -> None:
        """Block until the channel is connected (raises grpc.FutureTimeoutError)."""
        grpc.channel_ready_future(self.channel).result(timeout=timeout)
