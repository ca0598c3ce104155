"""MLLP (the Minimal Lower Layer Protocol of HL7 v2): a small asyncio server that only frames.

After Medplum's ``packages/hl7/src/server.ts``: the server accepts connections and hands each one to a handler;
the connection yields the payloads between ``<VT>`` and ``<FS><CR>`` and sends framed replies. What a message
means, when it is acknowledged (original mode: one ACK after the work; enhanced mode: a commit ACK first, the
application ACK after the work) is the handler's business (``hl7.listener``).

Bad input never raises out of the server: bytes before a start block are skipped, a frame larger than the limit
is read to its end and reported as :class:`OversizedFrame`, and a connection closed inside a frame ends the
iteration (:attr:`MllpConnection.truncated` says so). Nothing here logs a payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
DEFAULT_MAX_FRAME_BYTES = 1024 * 1024
_READ_CHUNK = 64 * 1024
_HEAD_BYTES = 4096

log = logging.getLogger("carecycle.hl7.mllp")


def frame(payload: bytes) -> bytes:
    """One MLLP frame around ``payload``."""
    return START_BLOCK + payload + END_BLOCK


@dataclass(frozen=True)
class OversizedFrame:
    """A frame over the size limit: its first bytes (enough for an MSH to answer) and its full size."""

    head: bytes
    size: int


class MllpConnection:
    """One client connection: ``frames()`` yields payloads (or :class:`OversizedFrame`), ``send`` frames a reply."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        idle_timeout: float | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._max = max_frame_bytes
        self._idle_timeout = idle_timeout
        self._buffer = bytearray()
        self.truncated = False  # the peer closed the connection inside a frame
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "unknown"

    async def _fill(self) -> bool:
        """Read more bytes; False at end of stream (or after the idle timeout)."""
        try:
            chunk = await asyncio.wait_for(self._reader.read(_READ_CHUNK), self._idle_timeout)
        except (TimeoutError, ConnectionError):
            return False
        if not chunk:
            return False
        self._buffer += chunk
        return True

    async def frames(self) -> AsyncIterator[bytes | OversizedFrame]:
        while True:
            start = self._buffer.find(START_BLOCK)
            while start < 0:
                self._buffer.clear()  # bytes outside a frame are noise
                if not await self._fill():
                    return
                start = self._buffer.find(START_BLOCK)
            del self._buffer[:start]
            item = await self._one_frame()
            if item is None:
                self.truncated = bool(self._buffer) or self.truncated
                return
            yield item

    async def _one_frame(self) -> bytes | OversizedFrame | None:
        """The frame starting at the buffer's first byte (a start block), or None at end of stream."""
        scan_from = 1
        head: bytes | None = None
        dropped = 0
        while True:
            end = self._buffer.find(END_BLOCK, scan_from)
            if end >= 0:
                payload = bytes(self._buffer[1:end])
                del self._buffer[: end + len(END_BLOCK)]
                if head is not None:
                    return OversizedFrame(head, dropped + len(payload))
                if len(payload) > self._max:
                    return OversizedFrame(payload[:_HEAD_BYTES], len(payload))
                return payload
            if len(self._buffer) - 1 > self._max:
                # Keep what is needed to answer (the MSH), drop the rest as it comes: memory stays bounded.
                if head is None:
                    head = bytes(self._buffer[1 : 1 + _HEAD_BYTES])
                dropped += len(self._buffer) - 2
                self._buffer = bytearray(START_BLOCK) + self._buffer[-1:]  # the last byte may begin END_BLOCK
            scan_from = max(1, len(self._buffer) - 1)
            if not await self._fill():
                return None

    async def send(self, payload: bytes) -> None:
        self._writer.write(frame(payload))
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


ConnectionHandler = Callable[[MllpConnection], Awaitable[None]]


class MllpServer:
    """Accepts connections on ``host:port`` and runs ``handler`` for each (one task per connection)."""

    def __init__(
        self,
        handler: ConnectionHandler,
        host: str = "127.0.0.1",
        port: int = 2575,
        *,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        idle_timeout: float | None = 300.0,
    ) -> None:
        self._handler = handler
        self.host = host
        self.port = port
        self._max = max_frame_bytes
        self._idle_timeout = idle_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=_READ_CHUNK * 2)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])  # the port chosen when asked for 0

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = MllpConnection(reader, writer, self._max, self._idle_timeout)
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._handler(connection)
        except asyncio.CancelledError:
            pass  # the server is closing: the connection ends here (re-raising would only be logged by asyncio)
        except (ConnectionError, asyncio.IncompleteReadError):
            log.info("hl7 connection from %s dropped", connection.peer)
        except Exception as exc:  # a handler bug must not take the listener down; no payload is logged
            log.error("hl7 connection handler failed: %s", type(exc).__name__)
        finally:
            await connection.close()
            if task is not None:
                self._connections.discard(task)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> MllpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class MllpClient:
    """A sender's side of one MLLP connection (the demo, the tests, the benchmark): send a message, read ACKs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connection = MllpConnection(reader, writer)
        self._frames = self._connection.frames()

    @classmethod
    async def connect(cls, host: str, port: int) -> MllpClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, payload: bytes) -> None:
        await self._connection.send(payload)

    async def receive(self, timeout: float | None = 30.0) -> bytes:
        """The next frame the listener sent (ConnectionError when it closed the connection)."""
        try:
            item = await asyncio.wait_for(anext(self._frames), timeout)
        except StopAsyncIteration:
            raise ConnectionError("the listener closed the connection") from None
        if isinstance(item, OversizedFrame):
            raise ConnectionError("the listener sent an oversized frame")
        return item

    async def exchange(self, payload: bytes, acks: int = 1, timeout: float | None = 30.0) -> list[bytes]:
        """Send one message and read its ``acks`` answers (2 in enhanced mode: commit, then application)."""
        await self.send(payload)
        return [await self.receive(timeout) for _ in range(acks)]

    async def close(self) -> None:
        await self._connection.close()
