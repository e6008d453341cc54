"""A network round trip on loopback: a TCP relay that holds every chunk half a round trip.

    python -m bench.latency --upstream-port 8443 --round-trip-ms 40

listens on a free loopback port, prints `port N` on stdout once it does, and relays each
accepted connection to 127.0.0.1:UPSTREAM. Every chunk read in either direction is written on
half a round trip after it was read, in order, so a request and its answer cost one round trip
and a TLS handshake costs what it costs over a network. The TCP handshake is the exception:
the kernel completes it on loopback before the relay sees the connection, so the relay
charges it instead, holding the connection's first bytes one extra round trip. A fresh
connection thus pays its TCP and TLS handshakes, a kept-alive one only its requests.

There is no bandwidth limit: the answers measured are a few kilobytes. SIGTERM stops it.
Written here rather than taken from a network emulator (tc netem) because those need root
and a network namespace, and the relay is a few dozen lines of asyncio streams.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 64 * 1024
START_TIMEOUT = 20.0


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
    opened: float,
) -> None:
    """Copy reader to writer, each chunk `delay` s after it was read, none before `opened`."""
    loop = asyncio.get_running_loop()
    held: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await held.get()
            if not data:
                break
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # a half-close travels on, as the peer's FIN would

    delivering = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            held.put_nowait((max(loop.time(), opened) + delay, data))
            if not data:
                break
        await delivering
    except (ConnectionError, OSError):
        # One side is gone: closing the other ends the opposite direction too.
        writer.close()
    finally:
        if not delivering.done():
            delivering.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await delivering


async def _relay(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_port: int,
    half: float,
) -> None:
    loop = asyncio.get_running_loop()
    # The round trip of the SYN / SYN-ACK the client did not wait for.
    opened = loop.time() + 2 * half
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
    except OSError:
        client_writer.close()
        return
    try:
        await asyncio.gather(
            _pipe(client_reader, server_writer, half, opened),
            _pipe(server_reader, client_writer, half, 0.0),
        )
    finally:
        for writer in (client_writer, server_writer):
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def serve(upstream_port: int, round_trip_ms: float, port: int = 0) -> None:
    half = round_trip_ms / 2000
    # asyncio's stream server forgets a handler's task once its client disconnects, and the
    # loop holds tasks only weakly: the relay keeps them until they end.
    relaying: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        relaying.add(task)
        try:
            await _relay(reader, writer, upstream_port, half)
        except asyncio.CancelledError:
            # Only the relay's own shutdown cancels a handler, and the stream server would
            # report a handler that ended cancelled as an error: end it as finished instead.
            pass
        finally:
            relaying.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"port {bound}\n")
    sys.stdout.flush()
    async with server:
        await stopping.wait()
        server.close()
        for task in list(relaying):
            task.cancel()
        await asyncio.gather(*relaying, return_exceptions=True)


@dataclass
class Relay:
    """A running relay process (see the module's docstring)."""

    port: int
    round_trip_ms: float
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def running(upstream_port: int, round_trip_ms: float) -> Iterator[Relay]:
    """The relay in a process of its own, so that it shares no interpreter with the timer."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.latency",
            "--upstream-port",
            str(upstream_port),
            "--round-trip-ms",
            f"{round_trip_ms:g}",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    relay = Relay(0, round_trip_ms, process)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            raise RuntimeError("the latency relay did not start")
        relay.port = int(line[1])
        yield relay
    finally:
        relay.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--round-trip-ms", type=float, default=40.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.upstream_port, args.round_trip_ms, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
