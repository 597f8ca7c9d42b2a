"""A TLS front for the SuperLink that forwards Flower's Fleet API and nothing else.

Flower 1.42's `flower-superlink` serves the Fleet API (`/v1/fleet/*`, what SuperNodes
call, authenticated by signed node-auth headers), the Control API (`/v1/control/*`:
start runs, register node keys; no authentication in the open-source build) and the
runtime API (`/v1/runtime/*`) on one port. fedscore binds the SuperLink to 127.0.0.1 and
puts this gateway on the public address: it forwards `POST` on exactly the Fleet paths
to the SuperLink over TLS (verified against the consortium CA) and refuses everything
else itself, without contacting the SuperLink.

Run it as `python -m fedscore.deployment.fleet_gateway --listen HOST:PORT --upstream-port
N --certfile F --keyfile F --ca-certfile F`; it prints `fleet gateway ready on HOST:PORT`
once listening and stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

#: Every Fleet endpoint of Flower 1.42 (flwr/superlink/routers/fleet/router.py), all POST.
#: Fixed on purpose: a new Flower endpoint is forwarded only after someone reviews it
#: (tests/test_fleet_gateway.py fails when Flower's router and this list differ).
FLEET_PATHS: frozenset[str] = frozenset(
    f"/v1/fleet/{name}"
    for name in (
        "register-node",
        "activate-node",
        "deactivate-node",
        "unregister-node",
        "send-node-heartbeat",
        "pull-messages",
        "push-messages",
        "get-run",
        "get-fab",
        "push-object",
        "pull-object",
        "confirm-message-received",
    )
)
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
READY_LINE = "fleet gateway ready on {host}:{port}"
#: The fixed body of every refusal (404: Flower's SuperNode treats 403 as "run stopped").
REFUSED_BODY = {"detail": "Not served by the fleet gateway"}
REFUSED_STATUS = 404

_HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-authenticate proxy-authorization proxy-connection te "
    b"trailer transfer-encoding upgrade".split()
)
#: Request headers never forwarded: hop-by-hop ones, what httpx sets itself, and client
#: claims about addresses (the SuperLink's uvicorn trusts X-Forwarded-* from 127.0.0.1).
_DROPPED_REQUEST = _HOP_BY_HOP | {b"host", b"content-length", b"expect", b"forwarded", b"x-real-ip"}
_DROPPED_RESPONSE = _HOP_BY_HOP | {b"content-length", b"server", b"date"}
_PATH_LOG_CHARS = 200

log = logging.getLogger("fedscore.fleet_gateway")


def _printable(raw: bytes | str, limit: int = _PATH_LOG_CHARS) -> str:
    """`raw` for a log line: at most `limit` characters, control and non-ASCII escaped."""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    shown = "".join(c if " " <= c <= "~" and c != "\\" else ascii(c)[1:-1] for c in text[:limit])
    return shown + ("..." if len(text) > limit else "")


def _kept_headers(
    headers: Sequence[tuple[bytes, bytes]], dropped: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    """`headers` minus `dropped`, X-Forwarded-*, and those the Connection header names."""
    named = {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
    }
    return [
        (name, value)
        for name, value in headers
        if (key := name.lower()) not in dropped
        and key not in named
        and not key.startswith(b"x-forwarded-")
    ]


class FleetGateway:
    """The ASGI app: forwards `POST` on `allowed_paths` upstream, refuses everything else.

    Args:
        upstream_port: the SuperLink's port on `upstream_host`.
        ca_certfile: the consortium CA certificate that must sign the SuperLink's.
        upstream_host: where the SuperLink listens; also the name its certificate must
            carry (a SAN), so keep it to an address or name in that certificate.
        max_body_bytes: the largest request body forwarded; larger ones get 413.
        timeout_s: read, write and connection-pool timeout of one upstream call (→ 504).
        connect_timeout_s: timeout of connecting to the SuperLink (→ 504).
        allowed_paths: the exact paths forwarded (default: all of Flower's Fleet API).
    """

    def __init__(
        self,
        upstream_port: int,
        ca_certfile: str,
        upstream_host: str = "127.0.0.1",
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        allowed_paths: frozenset[str] = FLEET_PATHS,
    ) -> None:
        self.allowed_paths = allowed_paths
        self.max_body_bytes = max_body_bytes
        host = f"[{upstream_host}]" if ":" in upstream_host else upstream_host
        self.upstream = f"https://{host}:{upstream_port}"
        self.client = httpx.AsyncClient(
            verify=ssl.create_default_context(cafile=ca_certfile),
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            trust_env=False,  # no proxies or certificates from the environment
            follow_redirects=False,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point: lifespan (closes the upstream client) and HTTP."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await self.client.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":  # websockets and anything newer: not served
            return
        response = await self._handle(Request(scope, receive))
        await response(scope, receive, send)

    def _target(self, scope: Scope) -> str | None:
        """The allowed path this request asks for exactly, or None."""
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        path = raw.decode("latin-1")
        if scope["method"] != "POST" or scope.get("query_string") or scope["path"] != path:
            return None
        return path if path in self.allowed_paths else None

    async def _handle(self, request: Request) -> Response:
        scope = request.scope
        path = self._target(scope)
        client = f"{request.client.host}:{request.client.port}" if request.client else "?"
        if path is None:
            raw = scope.get("raw_path") or scope["path"].encode("utf-8")
            if scope.get("query_string"):
                raw += b"?" + scope["query_string"]
            log.warning(
                "refused %s %s from %s", _printable(scope["method"], 20), _printable(raw), client
            )
            return JSONResponse(REFUSED_BODY, status_code=REFUSED_STATUS)
        declared = request.headers.get("content-length")
        if declared is not None and not (
            declared.isascii() and declared.isdigit() and int(declared) <= self.max_body_bytes
        ):
            return self._too_large(path, client, declared)
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > self.max_body_bytes:
                    return self._too_large(path, client, f">{self.max_body_bytes}")
        except ClientDisconnect:
            return Response(status_code=400)
        headers = _kept_headers(scope["headers"], _DROPPED_REQUEST)
        started = time.perf_counter()
        try:
            upstream = await self.client.send(
                self.client.build_request(
                    "POST", self.upstream + path, headers=headers, content=bytes(body)
                ),
                stream=True,
            )
            try:
                content = b"".join([chunk async for chunk in upstream.aiter_raw()])
            finally:
                await upstream.aclose()
        except httpx.TimeoutException as exc:
            log.error("upstream timeout (%s) for %s from %s", type(exc).__name__, path, client)
            return JSONResponse({"detail": "SuperLink timed out"}, status_code=504)
        except httpx.TransportError as exc:
            log.error("upstream unreachable (%s) for %s from %s", type(exc).__name__, path, client)
            return JSONResponse({"detail": "SuperLink unreachable"}, status_code=502)
        log.debug(
            "forwarded %s -> %d in %.1f ms from %s",
            path,
            upstream.status_code,
            1000 * (time.perf_counter() - started),
            client,
        )
        response = Response(content, status_code=upstream.status_code)
        kept = _kept_headers(upstream.headers.raw, _DROPPED_RESPONSE)
        response.raw_headers = [*kept, (b"content-length", str(len(content)).encode("ascii"))]
        return response

    def _too_large(self, path: str, client: str, size: str) -> Response:
        log.warning("refused %s (body %s bytes) from %s", path, _printable(size, 40), client)
        # Close the connection: the rest of the body is never read.
        headers = {"connection": "close"}
        return JSONResponse({"detail": "Request body too large"}, 413, headers=headers)


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
    serve_gateway(
        *args.listen,
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
    sys.exit(main())
