"""A loopback HTTP server that records every byte it receives and answers each request 401:
the stand-in for a host a hostile `.env` names, to prove what reached it (or that nothing did)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

_BODY = b'{"error": "invalid_client"}'
_ANSWER = (
    b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_BODY), _BODY)
)


@dataclass
class Recorder:
    url: str
    received: list[bytes] = field(default_factory=list)

    @property
    def everything(self) -> bytes:
        return b"".join(self.received)


@contextmanager
def recording_server() -> Iterator[Recorder]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    recorder = Recorder(f"http://127.0.0.1:{listener.getsockname()[1]}")
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                data = b""
                try:
                    # Headers, then whatever body follows within the short read window.
                    while chunk := connection.recv(65536):
                        data += chunk
                        if b"\r\n\r\n" in data:
                            connection.settimeout(0.2)
                except TimeoutError:
                    pass
                recorder.received.append(data)
                with suppress(OSError):
                    connection.sendall(_ANSWER)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
