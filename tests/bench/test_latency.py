"""The latency relay (bench/latency.py) passes bytes on intact, in order, both ways, and passes
a half-close on. Its delays are what the benchmark's conditions state and measure; no test
here times anything."""

from __future__ import annotations

import os
import socket
import threading

from bench import latency


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
