"""Running the scoring service.

TLS, health checking, a thread pool sized to the machine, graceful shutdown.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from fedscore.core.errors import ConfigError
from fedscore.scoring.grpc_api.generated import scoring_pb2, scoring_pb2_grpc
from fedscore.scoring.grpc_api.service import ScoringService
from fedscore.scoring.registry import RegisteredModel
from fedscore.scoring.scorer import Scorer

if TYPE_CHECKING:
    from fedscore.decisions import Decider

SERVICE_NAME = scoring_pb2.DESCRIPTOR.services_by_name["Scoring"].full_name


def check_listening(port: int, workers: int, grace_seconds: float) -> None:
    """Refuse a port, worker count or shutdown grace a gRPC server cannot use.

    Raises:
        ConfigError: the port is outside 0–65535, workers negative, or the grace period
            not a finite number of seconds ≥ 0.
    """
    # gRPC takes any port number modulo 65536: 70000 would listen on 4464.
    if not 0 <= port <= 65535:
        raise ConfigError("the port (--port) must be between 0 and 65535")
    if workers < 0:
        raise ConfigError("worker threads (--workers) must be 0 (4 per core) or more")
    if not (math.isfinite(grace_seconds) and grace_seconds >= 0):
        raise ConfigError("the shutdown grace period must be a finite number of seconds >= 0")


def serve_until_signal(
    start: Callable[[], object], stop: Callable[[], object], on_start: str = ""
) -> None:
    """Start a server, wait for SIGTERM or SIGINT, stop it (main thread only).

    Args:
        start: starts serving.
        stop: shuts down gracefully.
        on_start: a line printed to stdout once serving (e.g. for a supervisor).
    """
    requested = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        requested.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        start()
        if on_start:
            print(on_start, flush=True)
        requested.wait()
    finally:
        stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def default_workers() -> int:
    """Worker threads: four per usable core.

    A request holds a thread while TLS records are read and written, and the model's tensor
    operations release the GIL.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 4 * (cores or 1)


@dataclass(frozen=True)
class ServeSettings:
    """How the service listens.

    Attributes:
        host: the address to bind ("0.0.0.0" for all interfaces).
        port: the TCP port, 0–65535 (0: any free port, see `ScoringServer.port`).
        certificate: the server's TLS certificate chain (PEM): from the consortium PKI
            (`fedscore pki init`) or the institution's own.
        private_key: its private key (PEM).
        client_ca: optional CA (PEM) whose certificates clients must present (mutual TLS).
        workers: worker threads (0, the default: `default_workers()`).
        grace_seconds: how long in-flight calls may finish at shutdown.
    """

    host: str
    port: int
    certificate: Path
    private_key: Path
    client_ca: Path | None = None
    workers: int = 0
    grace_seconds: float = 5.0

    def __post_init__(self) -> None:
        check_listening(self.port, self.workers, self.grace_seconds)

    def credentials(self) -> grpc.ServerCredentials:
        try:
            chain = self.certificate.read_bytes()
            key = self.private_key.read_bytes()
            client_ca = self.client_ca.read_bytes() if self.client_ca else None
        except OSError as exc:
            raise ConfigError(f"cannot read the TLS files: {exc}") from exc
        return grpc.ssl_server_credentials(
            [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
        )


class ScoringServer:
    """The gRPC server of one registered model.

    Args:
        model: The verified model to serve.
        scorer: Its scorer.
        settings: Address, TLS, workers.
        decider: The decision strategy Decide applies (None: Decide is refused).
    """

    def __init__(
        self,
        model: RegisteredModel,
        scorer: Scorer,
        settings: ServeSettings,
        decider: Decider | None = None,
    ) -> None:
        self.settings = settings
        self.workers = settings.workers or default_workers()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.workers))
        service = ScoringService(model, scorer, decider)
        scoring_pb2_grpc.add_ScoringServicer_to_server(service, self._server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        address = f"{settings.host}:{settings.port}"
        try:
            self.port = self._server.add_secure_port(address, settings.credentials())
        except RuntimeError as exc:
            raise ConfigError(f"cannot listen on {address}: {exc}") from exc
        self._stopped = threading.Event()

    def start(self) -> None:
        """Start serving; health turns SERVING."""
        self._server.start()
        for name in ("", SERVICE_NAME):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def stop(self) -> None:
        """Graceful shutdown: health NOT_SERVING, no new calls, in-flight calls finish.

        In-flight calls have the grace period to finish.
        """
        self.health.enter_graceful_shutdown()
        self._server.stop(self.settings.grace_seconds).wait()
        self._stopped.set()

    def serve_until_signal(self) -> None:
        """Serve until SIGTERM or SIGINT, then shut down gracefully (main thread only)."""
        serve_until_signal(self.start, self.stop)
