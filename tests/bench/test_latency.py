"""The latency relay (bench/latency.py) passes bytes on intact, in order, both ways, and passes
a half-close on. Its delays are what the benchmark's conditions state and measure; no test
here times anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from bench import latency

REPO_ROOT = Path(__file__).resolve().parents[2]


def _echo_server() -> tuple[socket.socket, threading.Thread]:
    """A loopback server that echoes each connection until the client half-closes it."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            while data := connection.recv(65536):
                connection.sendall(data)
            connection.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_the_relay_passes_bytes_and_the_half_close_on():
    listener, thread = _echo_server()
    payload = os.urandom(3 * 1024 * 1024 + 17)  # many chunks, and an odd tail
    with listener, latency.running(listener.getsockname()[1], round_trip_ms=2) as relay:
        with socket.create_connection(("127.0.0.1", relay.port), timeout=30) as client:
            sender = threading.Thread(
                target=lambda: (client.sendall(payload), client.shutdown(socket.SHUT_WR))
            )
            sender.start()
            received = bytearray()
            while data := client.recv(65536):  # ends only if the server's FIN came through
                received += data
            sender.join()
        thread.join(timeout=30)
    assert bytes(received) == payload


def test_a_client_sees_its_connection_closed_when_the_upstream_is_gone():
    # An upstream that no longer listens: the client sees its connection closed, not a hang.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with latency.running(port, round_trip_ms=2) as relay:
        with socket.create_connection(("127.0.0.1", relay.port), timeout=30) as client:
            client.sendall(b"hello")
            assert client.recv(10) == b""
        assert relay.process.poll() is None  # the relay itself carries on


def test_connections_left_open_by_the_upstream_end_quietly():
    # A keep-alive server holds its side open after the client has gone: the relay must keep
    # relaying those connections (not let them be collected mid-flight) and end them quietly.
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)

    threading.Thread(target=serve, daemon=True).start()
    options = ["--upstream-port", str(listener.getsockname()[1]), "--round-trip-ms", "2"]
    relay = subprocess.Popen(
        [sys.executable, "-m", "bench.latency", *options],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert relay.stdout is not None
        port = int(relay.stdout.readline().split()[1])
        for _ in range(150):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
                client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        relay.terminate()
        _, stderr = relay.communicate(timeout=30)
    finally:
        if relay.poll() is None:
            relay.kill()
            relay.wait()
        listener.close()
        for connection in held:
            connection.close()
    assert relay.returncode == 0
    assert stderr == ""
