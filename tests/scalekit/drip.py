"""A server that answers a byte at a time: no single read ever waits long, so only a deadline
on the whole request ends it."""

from __future__ import annotations

import select
import socket
import threading
import time

HEAD_DRIP = (b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000 + b"\r\n\r\n")
BODY_DRIP = (b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", b"x" * 1000)


class Dripper:
    """Sends `prefix` at once, then `drip` one byte every `every` seconds (for at most `limit`
    seconds); records how long each connection stayed open until the client closed it."""

    def __init__(self, prefix: bytes, drip: bytes, every: float = 0.1, limit: float = 30.0):
        self.prefix, self.drip, self.every, self.limit = prefix, drip, every, limit
        self.open_for: list[float] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        accepted = time.monotonic()
        with sock:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
            try:
                sock.sendall(self.prefix)
                for index in range(len(self.drip)):
                    if time.monotonic() - accepted > self.limit:
                        break
                    readable, _, _ = select.select([sock], [], [], self.every)
                    if readable and not sock.recv(65536):
                        break  # the client hung up
                    sock.sendall(self.drip[index : index + 1])
            except OSError:
                pass
            self.open_for.append(time.monotonic() - accepted)

    def wait_for_closes(self, count: int, timeout: float = 5.0) -> list[float]:
        """How long each connection stayed open, once `count` of them have been closed."""
        deadline = time.monotonic() + timeout
        while len(self.open_for) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.open_for)

    def stop(self) -> None:
        self._server.close()
