"""The bases the ingest grants, back to the simulated AGVs: a one-way pipe of small frames
(AGV index, its base's nodes). It stands in for the order updates the edge would publish
(see the package docstring). The ingest's end never blocks its event loop: the pipe is
non-blocking, what does not fit waits in a buffer that the loop writes out when the pipe
can take it. The AGVs' end reads whatever has arrived, between two states."""

from __future__ import annotations

import asyncio
import os
import select
import struct
from collections.abc import Iterator
from multiprocessing.connection import Connection

_HEAD = struct.Struct("<IH")  # AGV index, node count
_NODE = struct.Struct("<I")


def encode(agv: int, base: tuple[int, ...]) -> bytes:
    return _HEAD.pack(agv, len(base)) + struct.pack(f"<{len(base)}I", *base)


class BaseWriter:
    """The ingest's end, on its event loop."""

    def __init__(self, connection: Connection, loop: asyncio.AbstractEventLoop) -> None:
        self._connection = connection  # keeps the descriptor open
        self._fd = connection.fileno()
        os.set_blocking(self._fd, False)
        self._loop = loop
        self._pending = bytearray()
        self.closed = False  # the AGVs' end went away
        self.sent = 0

    def send(self, agv: int, base: tuple[int, ...]) -> None:
        if self.closed:
            return
        self.sent += 1
        waiting = bool(self._pending)
        self._pending += encode(agv, base)
        if not waiting:
            self._write()

    def _write(self) -> None:
        try:
            written = os.write(self._fd, self._pending)
        except BlockingIOError:
            written = 0
        except (BrokenPipeError, OSError):
            self._stop()
            return
        del self._pending[:written]
        if self._pending:
            self._loop.add_writer(self._fd, self._on_writable)

    def _on_writable(self) -> None:
        self._loop.remove_writer(self._fd)
        self._write()

    def _stop(self) -> None:
        self.closed = True
        self._pending.clear()
        self._loop.remove_writer(self._fd)

    def close(self) -> None:
        self._stop()
        self._connection.close()


class BaseReader:
    """The AGVs' end."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._fd = connection.fileno()
        os.set_blocking(self._fd, False)
        self._buffer = bytearray()
        self.eof = False

    def wait(self, timeout_s: float) -> bool:
        """Sleep until `timeout_s` has passed or bases have arrived; whether they have."""
        if self.eof:
            if timeout_s > 0:
                select.select([], [], [], timeout_s)
            return False
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout_s))
        return bool(ready)

    def read(self) -> Iterator[tuple[int, tuple[int, ...]]]:
        """The bases that have arrived, oldest first."""
        if not self.eof:
            while True:
                try:
                    chunk = os.read(self._fd, 1 << 16)
                except BlockingIOError:
                    break
                if not chunk:
                    self.eof = True
                    break
                self._buffer += chunk
        buffer, at = self._buffer, 0
        while len(buffer) - at >= _HEAD.size:
            agv, count = _HEAD.unpack_from(buffer, at)
            end = at + _HEAD.size + count * _NODE.size
            if end > len(buffer):
                break
            yield agv, struct.unpack_from(f"<{count}I", buffer, at + _HEAD.size)
            at = end
        del buffer[:at]
