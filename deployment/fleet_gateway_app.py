"""The fleet gateway's ASGI app: `POST` on Flower's Fleet paths goes upstream, nothing else.

Flower 1.42's `flower-superlink` serves the Fleet API (`/v1/fleet/*`, what SuperNodes
call, authenticated by signed node-auth headers), the Control API (`/v1/control/*`:
start runs, register node keys; no authentication in the open-source build) and the
runtime API (`/v1/runtime/*`) on one port. `FleetGateway` forwards `POST` on exactly the
Fleet paths to the SuperLink over TLS (verified against the consortium CA) and refuses
everything else itself, without contacting the SuperLink. `fleet_gateway` serves it.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Sequence

import httpx
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
