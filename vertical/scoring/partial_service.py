"""The facilitator's partial-score service: its half of a vertical model, for the bank only.

At start-up it loads one finished run (`shared_rows`): the contribution f_fac(x) of
every shared customer still consented, keyed by the run's join key, so a request is one
dictionary lookup. It listens with mutual TLS only (no plaintext port): the client's
certificate must be signed by the consortium CA, and its common name must be the bank
the run's terms name, or the call is refused with PERMISSION_DENIED. A reply holds the
contribution and the model version, nothing else; an unknown join key gets NOT_FOUND.
A call whose deadline has passed is not answered (DEADLINE_EXCEEDED). Health checking,
a thread pool, and graceful shutdown on SIGTERM as the horizontal scoring service.

What it discloses is on the facilitator's ledger (`vertical.serving`): before it
listens, the bank it serves and the most customers it can answer for; when it stops,
the calls it answered and how many distinct customers' contributions went out.

    python -m fedscore.vertical.scoring.partial_service --config vertical.toml \
        --run RUN_ID --port 7443 --ca ca.crt --cert tls.crt --key tls.key
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from fedscore.core.errors import ConfigError, FedscoreError
from fedscore.scoring.grpc_api.server import check_listening, serve_until_signal
from fedscore.vertical.node.psi_stages import journal_of
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.roles import Role
from fedscore.vertical.scoring.generated import vertical_scoring_pb2 as pb
from fedscore.vertical.scoring.generated import vertical_scoring_pb2_grpc
from fedscore.vertical.scoring.serving_record import ServingRecord
from fedscore.vertical.scoring.shared_rows import JOIN_KEY_BYTES, load_shared_rows
from fedscore.vertical.scoring.tls import TlsFiles, peer_common_name

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PartialScore"].full_name
#: The most join keys one Contributions call may ask for.
MAX_BATCH = 10_000


class PartialScoreService(vertical_scoring_pb2_grpc.PartialScoreServicer):
    """Answers Contribution and Contributions from one run's contributions.

    Args:
        run_id: the run served.
        bank: the only client allowed: the run's label holder (certificate common name).
        model_version: "<run id>:<sha256 of the trained sub-model>".
        contributions: join key → the facilitator's contribution.
    """

    def __init__(
        self, run_id: str, bank: str, model_version: str, contributions: dict[bytes, float]
    ) -> None:
        self.run_id = run_id
        self.bank = bank
        self.model_version = model_version
        self._contributions = contributions
        self.calls = 0
        self.served: set[bytes] = set()  # join keys whose contribution went out

    @classmethod
    def from_run(cls, config: VerticalNodeConfig, run_id: str) -> PartialScoreService:
        """The service of run `run_id` at the facilitator whose config is `config`.

        Raises:
            ConfigError: the node is not the run's feature holder, or the run cannot be
                served (see `load_shared_rows`).
        """
        if config.role is not Role.FEATURE_HOLDER:
            raise ConfigError(f"{config.party} is the label holder; it serves no partial score")
        shared = load_shared_rows(config, run_id)
        values = dict(zip(shared.join_keys, shared.contributions.tolist(), strict=True))
        return cls(run_id, shared.terms.label_holder, shared.model_version, values)

    @property
    def size(self) -> int:
        """How many shared customers are served."""
        return len(self._contributions)

    def Contribution(
        self, request: pb.ContributionRequest, context: grpc.ServicerContext
    ) -> pb.ContributionReply:
        self._admit(request.run_id, context)
        if len(request.join_key) != JOIN_KEY_BYTES:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "join_key: must be 32 bytes")
        value = self._contributions.get(request.join_key)
        if value is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, "no shared customer has this join key")
        self._count([request.join_key])
        return pb.ContributionReply(contribution=value, model_version=self.model_version)

    def Contributions(
        self, request: pb.ContributionsRequest, context: grpc.ServicerContext
    ) -> pb.ContributionsReply:
        self._admit(request.run_id, context)
        keys = request.join_keys
        if len(keys) > MAX_BATCH:
            problem = f"join_keys: at most {MAX_BATCH} a call, got {len(keys)}"
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, problem)
        wrong = next((i for i, key in enumerate(keys) if len(key) != JOIN_KEY_BYTES), None)
        if wrong is not None:
            problem = f"join_keys: #{wrong + 1} is not 32 bytes"
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, problem)
        found = [self._contributions.get(key) for key in keys]
        _check_deadline(context)
        self._count([key for key, value in zip(keys, found, strict=True) if value is not None])
        return pb.ContributionsReply(
            contributions=[0.0 if value is None else value for value in found],
            found=[value is not None for value in found],
            model_version=self.model_version,
        )

    def _count(self, answered: list[bytes]) -> None:
        # Under the GIL each update is atomic; the figures are for the ledger, not billing.
        self.calls += 1
        self.served.update(answered)

    def _admit(self, run_id: str, context: grpc.ServicerContext) -> None:
        """Refuse a client that is not the bank, another run, or a call past its deadline."""
        if peer_common_name(context) != self.bank:
            _abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"only {self.bank}, the run's label holder, may ask for partial scores",
            )
        if run_id != self.run_id:
            _abort(context, grpc.StatusCode.FAILED_PRECONDITION, "this service serves another run")
        _check_deadline(context)


def _check_deadline(context: grpc.ServicerContext) -> None:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        _abort(context, grpc.StatusCode.DEADLINE_EXCEEDED, "the call's deadline has passed")


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


@dataclass(frozen=True)
class PartialServeSettings:
    """How the partial-score service listens.

    Attributes:
        host: the address to bind ("0.0.0.0" for all interfaces).
        port: the TCP port, 0–65535 (0: any free port, see `PartialScoreServer.port`).
        tls: the facilitator's TLS files (`tls.issue_party_certificate`); clients must
            present a certificate of the same CA.
        workers: worker threads (0, the default: four per usable core).
        grace_seconds: how long in-flight calls may finish at shutdown.
    """

    host: str
    port: int
    tls: TlsFiles
    workers: int = 0
    grace_seconds: float = 5.0

    def __post_init__(self) -> None:
        check_listening(self.port, self.workers, self.grace_seconds)


class PartialScoreServer:
    """The gRPC server of one run's partial scores (mutual TLS, health, graceful stop).

    Args:
        service: the servicer (`PartialScoreService.from_run`).
        settings: address, TLS, workers.

    Raises:
        ConfigError: the TLS files are unreadable or the address cannot be bound.
    """

    def __init__(self, service: PartialScoreService, settings: PartialServeSettings) -> None:
        self.settings = settings
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        self.workers = settings.workers or 4 * cores
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.workers))
        vertical_scoring_pb2_grpc.add_PartialScoreServicer_to_server(service, self._server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        address = f"{settings.host}:{settings.port}"
        credentials = settings.tls.server_credentials()
        try:
            self.port = self._server.add_secure_port(address, credentials)
        except RuntimeError as error:
            raise ConfigError(f"cannot listen on {address}: {error}") from error

    def start(self) -> None:
        """Start serving; health turns SERVING."""
        self._server.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def stop(self) -> None:
        """Graceful shutdown: health NOT_SERVING, no new calls, in-flight calls finish."""
        self.health.enter_graceful_shutdown()
        self._server.stop(self.settings.grace_seconds).wait()

    def serve_until_signal(self, on_start: str = "") -> None:
        """Serve until SIGTERM or SIGINT, then shut down gracefully (main thread only).

        Args:
            on_start: a line printed to stdout once serving (e.g. for a supervisor).
        """
        serve_until_signal(self.start, self.stop, on_start)


def main(argv: list[str] | None = None) -> int:
    """Serve one run's partial scores until SIGTERM (see the module); the exit status."""
    parser = argparse.ArgumentParser(description="The facilitator's partial-score service.")
    parser.add_argument("--config", required=True, help="the facilitator's vertical.toml")
    parser.add_argument("--run", required=True, help="the vertical run to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ca", required=True, help="the consortium CA's certificate")
    parser.add_argument("--cert", required=True, help="the facilitator's TLS certificate")
    parser.add_argument("--key", required=True, help="its private key")
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        config = VerticalNodeConfig.from_toml(args.config)
        service = PartialScoreService.from_run(config, args.run)
        tls = TlsFiles(Path(args.ca), Path(args.cert), Path(args.key))
        server = PartialScoreServer(
            service, PartialServeSettings(args.host, args.port, tls, args.workers)
        )
        record = ServingRecord(journal_of(config), service)
        record.opened()
    except FedscoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        server.serve_until_signal(
            f"partial scores of run {args.run} ({service.size} shared customers) "
            f"serving on {args.host}:{server.port}"
        )
    finally:
        record.closed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
