"""A TCP forwarder per party that counts the bytes crossing it each way.

Each SuperNode of the deployment benchmark reaches the SuperLink through its own
forwarder; TLS passes through untouched, so what is counted is the TLS records as they
cross the wire (payload, framing, handshakes), not TCP/IP headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any


class ByteCountingProxy:
    """One TCP forwarder per party to one target, counting bytes each way, in a thread.

    `sent`: bytes the party's SuperNode sent towards the SuperLink; `received`: bytes
    it got back. Both count TLS records as they cross the wire (payload, framing,
    handshakes); TCP/IP headers are not counted.

    Args:
        target_port: the port on `host` every forwarder connects to.
        host: where the forwarders listen and the target listens.
    """

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target_port = target_port
        self.host = host
        self.counts: dict[str, dict[str, int]] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self, routes: dict[str, int]) -> None:
        """Listen on `host`:port for each party in `routes` (party → port)."""
        self._thread.start()
        for party, port in routes.items():
            self.counts[party] = {"sent": 0, "received": 0, "connections": 0}
            server = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(self._handler(party), self.host, port), self._loop
            ).result(timeout=10)
            self._servers.append(server)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """The counters now: party → sent, received, connections."""
        return {party: dict(counts) for party, counts in self.counts.items()}

    def _handler(self, party: str) -> Callable[..., Any]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            counts = self.counts[party]
            counts["connections"] += 1
            try:
                up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
            except OSError:
                writer.close()
                return
            self._writers |= {writer, up_writer}
            try:
                await asyncio.gather(
                    self._pump(reader, up_writer, counts, "sent"),
                    self._pump(up_reader, writer, counts, "received"),
                )
            finally:
                for end in (writer, up_writer):
                    end.close()
                    self._writers.discard(end)

        return handle

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        counts: dict[str, int],
        key: str,
    ) -> None:
        try:
            while data := await reader.read(65536):
                counts[key] += len(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()

    def stop(self) -> None:
        """Close every listener and connection and end the thread."""

        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            for writer in list(self._writers):
                writer.close()

        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
