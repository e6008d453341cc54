"""A forward HTTP proxy on loopback, for the tests of proxies named by the environment.

It does what a corporate proxy does for a client: an absolute-form request (`GET http://host/…`)
is forwarded to its origin, and `CONNECT host:port` opens a tunnel that TLS then runs through
end to end. Each request line and its `Proxy-Authorization` are recorded, and every byte a
client sent; a proxy with `required_authorization` answers 407 without it (with
`quote_in_refusal`, a 407 whose reason phrase quotes the credentials it was given, as a careless
proxy may). `hosts` says where names the proxy alone can resolve are.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Seen:
    method: str
    target: str
    authorization: str | None


@dataclass
class ForwardProxy:
    required_authorization: str | None = None
    quote_in_refusal: bool = False
    hosts: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    received: bytearray = field(default_factory=bytearray)
    _server: socket.socket | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def start(self) -> ForwardProxy:
        self._server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _head(self, sock: socket.socket) -> tuple[bytes, bytes]:
        """The header block (through the blank line) and whatever came after it."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return b"", b""
            self.received += chunk
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        return head, rest

    def _serve(self, client: socket.socket) -> None:
        with client:
            head, rest = self._head(client)
            if not head:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            authorization = fields.get("proxy-authorization")
            self.seen.append(Seen(method, target, authorization))
            if self.required_authorization and authorization != self.required_authorization:
                reason = "Proxy Authentication Required"
                if self.quote_in_refusal and authorization:
                    given = base64.b64decode(authorization.split()[-1]).decode("utf-8", "replace")
                    reason = f"Bad credentials {given} ({authorization})"
                client.sendall(
                    f"HTTP/1.1 407 {reason}\r\n".encode()
                    + b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
                )
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = socket.create_connection((self.hosts.get(host, host), int(port)))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                parts = urlsplit(target)
                host = parts.hostname or ""
                upstream = socket.create_connection((self.hosts.get(host, host), parts.port or 80))
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                kept = [
                    line
                    for line in lines[1:]
                    if not line.lower().startswith(("proxy-authorization:", "connection:"))
                ]
                # One exchange per connection: the origin is asked to close after answering.
                request = [f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""]
                upstream.sendall("\r\n".join(request).encode("latin-1") + rest)
                rest = b""
            with upstream:
                if rest:
                    upstream.sendall(rest)
                self._pump(client, upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        def copy(source: socket.socket, target: socket.socket) -> None:
            try:
                while chunk := source.recv(65536):
                    if source is client:
                        self.received += chunk
                    target.sendall(chunk)
            except OSError:
                pass
            finally:
                for sock in (source, target):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

        back = threading.Thread(target=copy, args=(upstream, client), daemon=True)
        back.start()
        copy(client, upstream)
        back.join(timeout=10)
