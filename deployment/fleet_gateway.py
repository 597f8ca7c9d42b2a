"""A TLS front for the SuperLink that forwards Flower's Fleet API and nothing else.

fedscore binds the SuperLink to 127.0.0.1 and puts this gateway on the public address:
it serves `FleetGateway` (`fleet_gateway_app`: `POST` on exactly the Fleet paths goes to
the SuperLink over TLS, everything else is refused without contacting it) with uvicorn.

Run it as `python -m fedscore.deployment.fleet_gateway --listen HOST:PORT --upstream-port
N --certfile F --keyfile F --ca-certfile F`; it prints `fleet gateway ready on HOST:PORT`
once listening and stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import uvicorn

from fedscore.deployment.fleet_gateway_app import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TIMEOUT_S,
    FleetGateway,
    log,
)

READY_LINE = "fleet gateway ready on {host}:{port}"


class _GatewayServer(uvicorn.Server):
    """uvicorn's server that announces readiness and exits with status 0 on SIGTERM/SIGINT."""

    def __init__(self, config: uvicorn.Config, shown_host: str) -> None:
        super().__init__(config)
        self.shown_host = shown_host

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start listening, then print the readiness line with the port actually bound."""
        await super().startup(sockets)
        if self.started and self.servers:
            port = self.servers[0].sockets[0].getsockname()[1]
            print(READY_LINE.format(host=self.shown_host, port=port), flush=True)

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Stop gracefully on SIGTERM/SIGINT (a second SIGINT forces), without re-raising."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve_gateway(
    listen_host: str,
    listen_port: int,
    upstream_port: int,
    certfile: str,
    keyfile: str,
    ca_certfile: str,
    upstream_host: str = "127.0.0.1",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    log_level: str = "info",
) -> None:
    """Serve the gateway over TLS until SIGTERM or SIGINT (blocking).

    Prints `fleet gateway ready on HOST:PORT` (the port actually bound) once listening.

    Args:
        listen_host: the address to listen on (e.g. 0.0.0.0; :: for IPv6).
        listen_port: the port to listen on (0: any free port, printed when ready).
        upstream_port: the SuperLink's port on `upstream_host`.
        certfile: the TLS certificate the gateway presents (the SuperLink's, from the PKI).
        keyfile: that certificate's private key.
        ca_certfile: the consortium CA certificate, to verify the SuperLink's certificate.
        upstream_host: the SuperLink's address, also the name verified in its certificate.
        max_body_bytes: the largest request body forwarded (larger: 413).
        timeout_s: the timeout of one upstream call (then 504).
        log_level: uvicorn's and the gateway's log level.
    """
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(log_level.upper())
    app = FleetGateway(upstream_port, ca_certfile, upstream_host, max_body_bytes, timeout_s)
    config = uvicorn.Config(
        app,
        host=listen_host,
        port=listen_port,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        log_level=log_level,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        lifespan="on",
    )
    _GatewayServer(config, listen_host).run()


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def main(argv: Sequence[str] | None = None) -> None:
    """The command line: `python -m fedscore.deployment.fleet_gateway --help`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=_host_port, required=True, help="HOST:PORT to serve")
    parser.add_argument("--upstream-port", type=int, required=True, help="SuperLink's port")
    parser.add_argument("--upstream-host", default="127.0.0.1", help="SuperLink's address")
    parser.add_argument("--certfile", required=True, help="gateway's TLS certificate")
    parser.add_argument("--keyfile", required=True, help="that certificate's private key")
    parser.add_argument("--ca-certfile", required=True, help="consortium CA certificate")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)
    listen_host, listen_port = args.listen
    serve_gateway(
        listen_host,
        listen_port,
        args.upstream_port,
        args.certfile,
        args.keyfile,
        args.ca_certfile,
        upstream_host=args.upstream_host,
        max_body_bytes=args.max_body_bytes,
        timeout_s=args.timeout,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    main()
