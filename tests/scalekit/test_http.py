"""sk's HTTP layer (scalekit/http.py over httpx, scalekit/transport.py) against real sockets:
content decoding, body caps, keep-alive connections a server has closed, answers that are not
HTTP, requests HTTP cannot carry, and the whole-request deadline. (Proxies named by the
environment: tests/cli/test_proxies.py; TLS and CONNECT: tests/security/test_tls.py.)

Servers here are small and hand-written on purpose: each one misbehaves (or proxies) in exactly
the way a test needs, which the sandbox cannot be asked to do.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator

import pytest

from scalekit_cli.scalekit.errors import NetworkError, ScalekitError
from scalekit_cli.scalekit.http import UNSENDABLE, HttpSession, RetryPolicy
from tests.scalekit.drip import BODY_DRIP, HEAD_DRIP, Dripper

# -- a hand-written origin --------------------------------------------------------------------


class Origin:
    """Answers every request on a connection with `answer(request_head)` (bytes on the wire);
    records the request heads. `close_after_answer` closes each connection after one answer
    although the answer promised keep-alive: an idle connection the server dropped."""

    def __init__(self, answer: Callable[[bytes], bytes], *, close_after_answer: bool = False):
        self.answer = answer
        self.close_after_answer = close_after_answer
        self.heads: list[bytes] = []
        self.connections = 0
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
            self.connections += 1
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                self.heads.append(head)
                sock.sendall(self.answer(head))
                if self.close_after_answer:
                    return

    def stop(self) -> None:
        self._server.close()


def http_answer(body: bytes, *fields: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *fields, "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


@pytest.fixture
def origin_factory() -> Iterator[Callable[..., Origin]]:
    made: list[Origin] = []

    def make(answer: Callable[[bytes], bytes], **options: bool) -> Origin:
        made.append(Origin(answer, **options))
        return made[-1]

    yield make
    for origin in made:
        origin.stop()


def session(pauses: list[float] | None = None) -> HttpSession:
    return HttpSession(
        timeout=5,
        retry=RetryPolicy(backoff_base=0.01),
        sleep=(pauses.append if pauses is not None else lambda _seconds: None),
    )


DOCUMENT = b'{"connected_account": {"status": "ACTIVE"}}'


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda body: zlib.compress(body)[2:-4]),  # raw deflate, as some servers send
        ("gzip, deflate", lambda body: zlib.compress(gzip.compress(body))),
        ("identity", lambda body: body),
    ],
)
def test_compressed_answers_are_decoded(origin_factory, coding, encode):
    origin = origin_factory(
        lambda _head: http_answer(encode(DOCUMENT), f"Content-Encoding: {coding}")
    )
    with session() as client:
        response = client.send("GET", f"{origin.url}/x", idempotent=True)
    assert response.content == DOCUMENT
    assert b"accept-encoding: gzip, deflate" in origin.heads[0].lower()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "gzip, identity"])
def test_a_body_its_encoding_does_not_describe_is_a_network_error(origin_factory, coding):
    origin = origin_factory(
        lambda _head: http_answer(b"\x00not compressed", f"Content-Encoding: {coding}")
    )
    with session() as client, pytest.raises(NetworkError) as caught:
        client.send("GET", f"{origin.url}/x", idempotent=False)
    assert "could not be decoded" in str(caught.value)


def test_a_coding_sk_never_asks_for_is_left_as_it_is(origin_factory):
    origin = origin_factory(lambda _head: http_answer(DOCUMENT, "Content-Encoding: utf-8"))
    with session() as client:
        assert client.send("GET", f"{origin.url}/x", idempotent=True).content == DOCUMENT


def test_an_answer_past_the_size_limit_is_refused_compressed_or_not(origin_factory, monkeypatch):
    from scalekit_cli.scalekit import http

    monkeypatch.setattr(http, "MAX_BODY_BYTES", 1024 * 1024)
    bomb = zlib.compress(b"\0" * (8 * 1024 * 1024))  # 8 KiB that inflate to 8 MiB
    for body, fields in [(bomb, ("Content-Encoding: deflate",)), (b"x" * (1024 * 1024 + 1), ())]:
        origin = origin_factory(lambda _head, body=body, fields=fields: http_answer(body, *fields))
        pauses: list[float] = []
        with session(pauses) as client, pytest.raises(NetworkError) as caught:
            client.send("GET", f"{origin.url}/x", idempotent=True)
        assert str(caught.value) == "the answer is larger than 1 MiB"
        assert pauses == []  # the same answer would come again: no retry


def test_interim_answers_are_read_past(origin_factory):
    """A 103 Early Hints before each answer: every request gets its own final answer, and the
    connection stays in step (httpx did the same)."""
    count = iter(range(100))

    def answer(_head: bytes) -> bytes:
        body = f'{{"n": {next(count)}}}'.encode()
        return b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n" + http_answer(body)

    origin = origin_factory(answer)
    with session() as client:
        answers = [client.send("GET", f"{origin.url}/x", idempotent=True) for _ in range(3)]
    assert [(a.status_code, a.content) for a in answers] == [
        (200, b'{"n": 0}'),
        (200, b'{"n": 1}'),
        (200, b'{"n": 2}'),
    ]
    assert origin.connections == 1


def test_a_connection_the_server_closed_while_idle_is_not_reused(origin_factory):
    """The answer says keep-alive, then the server closes: the next request must go out on a
    new connection at once — no failed attempt, no retry pause, even for a create."""
    origin = origin_factory(lambda _head: http_answer(DOCUMENT), close_after_answer=True)
    pauses: list[float] = []
    with session(pauses) as client:
        for _ in range(3):
            response = client.send("POST", f"{origin.url}/create", idempotent=False, json={})
            assert response.status_code == 200
            time.sleep(0.05)  # the server's close has arrived
    assert pauses == []
    assert origin.connections == 3


def test_keep_alive_reuses_one_connection(origin_factory):
    origin = origin_factory(lambda _head: http_answer(DOCUMENT))
    with session() as client:
        for _ in range(5):
            assert client.send("GET", f"{origin.url}/read", idempotent=True).status_code == 200
    assert origin.connections == 1


def test_repeated_answer_fields_are_kept_and_joined(origin_factory):
    origin = origin_factory(
        lambda _head: http_answer(b"{}", "Vary: Accept", "vary: Origin", "X-Name: caf\xc3\xa9")
    )
    with session() as client:
        response = client.send("GET", f"{origin.url}/x", idempotent=True)
    assert response.headers["VARY"] == "Accept, Origin"
    assert response.headers.get_list("vary") == ["Accept", "Origin"]
    assert response.headers["x-name"] == "café"  # UTF-8 on the wire, read as such


def test_targets_are_percent_encoded_and_queries_merged(origin_factory):
    origin = origin_factory(lambda _head: http_answer(b"{}"))
    with session() as client:
        client.send(
            "GET", f"{origin.url}/labels/ünï code?kept=1", idempotent=True, params={"q": "a b/ü"}
        )
    request_line = origin.heads[0].split(b"\r\n")[0]
    assert request_line == b"GET /labels/%C3%BCn%C3%AF%20code?kept=1&q=a+b%2F%C3%BC HTTP/1.1"


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("/x\r\nInjected: 1", {}),
        ("/x", {"x-value": "one\r\nInjected: 1"}),
        ("/x", {"x-value": b"one\nInjected: 1"}),
        ("/x", {"x-value": "not ascii: ü"}),
        ("/x", {"bad name": "1"}),
        ("/x", {"x-name\n": "1"}),
        ("/x\udce9", {}),  # a lone surrogate: undecodable bytes of a command line
    ],
)
def test_what_http_cannot_carry_is_refused_before_anything_is_sent(origin_factory, url, headers):
    origin = origin_factory(lambda _head: http_answer(b"{}"))
    with session() as client, pytest.raises(NetworkError) as caught:
        client.send("GET", f"{origin.url}{url}", idempotent=True, headers=headers)
    assert str(caught.value) == UNSENDABLE
    assert origin.connections == 0


@pytest.mark.parametrize(
    "url",
    ["http://exa mple.com/x", "http://a..com/x", f"http://{'a' * 64}.com/x", "http://[::1/x"],
)
def test_a_host_that_is_no_host_is_refused(url):
    with session() as client, pytest.raises(NetworkError) as caught:
        client.send("GET", url, idempotent=True)
    assert str(caught.value) == UNSENDABLE


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"value": float("nan")}, "NaN and Infinity are not JSON values"),
        ({"text": "\udce9"}, "lone surrogate"),
    ],
    ids=["nan", "surrogate"],
)
def test_json_http_cannot_carry_is_refused(origin_factory, body, reason):
    """Refused before sending, and not as a network failure: the network is not at fault."""
    origin = origin_factory(lambda _head: http_answer(b"{}"))
    with session() as client, pytest.raises(ScalekitError) as caught:
        client.send("POST", f"{origin.url}/x", idempotent=False, json=body)
    assert not isinstance(caught.value, NetworkError)
    assert reason in str(caught.value)
    assert origin.connections == 0


def test_a_server_that_hangs_up_mid_answer(origin_factory):
    origin = origin_factory(
        lambda _head: b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial"',
        close_after_answer=True,
    )
    pauses: list[float] = []
    with session(pauses) as client, pytest.raises(NetworkError) as caught:
        client.send("GET", f"{origin.url}/x", idempotent=True)
    assert str(caught.value) == "the connection was closed before a complete answer"
    assert len(pauses) == 3  # a read: retried, then given up


def test_an_answer_that_is_not_http(origin_factory):
    origin = origin_factory(lambda _head: b"SSH-2.0-OpenSSH_9.6\r\n\r\n", close_after_answer=True)
    with session() as client, pytest.raises(NetworkError) as caught:
        client.send("POST", f"{origin.url}/x", idempotent=False, json={})
    assert str(caught.value) == "the answer was not valid HTTP"


@pytest.mark.parametrize(
    ("method", "status"),
    [("DELETE", "204 No Content"), ("HEAD", "200 OK"), ("GET", "304 Not Modified")],
)
def test_answers_without_a_body_are_not_waited_on(origin_factory, method, status):
    """204 and 304 (and any answer to HEAD) have no body whatever their fields say (RFC 9112
    §6.3): the answer is whole at once, and the connection stays in step for the next."""
    lines = [f"HTTP/1.1 {status}", "Transfer-Encoding: chunked", "", ""]
    origin = origin_factory(lambda _head: "\r\n".join(lines).encode())
    with HttpSession(timeout=2) as client:
        for _ in range(2):
            response = client.send(method, f"{origin.url}/x", idempotent=False)
            assert (response.content, response.status_code) == (b"", int(status[:3]))
    assert origin.connections == 1


def test_interim_answers_without_end_are_cut_off_by_the_deadline(origin_factory):
    origin = origin_factory(lambda _head: b"HTTP/1.1 103 Early Hints\r\n\r\n" * 50)
    started = time.monotonic()
    with HttpSession(timeout=1) as client, pytest.raises(NetworkError) as caught:
        client.send("POST", f"{origin.url}/x", idempotent=False, json={})
    assert str(caught.value) == "no answer within 1 s (SK_HTTP_TIMEOUT)"
    assert time.monotonic() - started < 1.8


def test_an_absolute_host_name_is_sent_without_its_dot(origin_factory):
    origin = origin_factory(lambda _head: http_answer(b"{}"))
    port = origin.url.rsplit(":", 1)[1]
    with session() as client:
        client.send("GET", f"http://localhost.:{port}/x", idempotent=True)
    assert f"host: localhost:{port}".encode() in origin.heads[0].lower()


# -- the whole-request deadline ---------------------------------------------------------------


@pytest.fixture
def dripper_factory() -> Iterator[Callable[..., Dripper]]:
    made: list[Dripper] = []

    def make(prefix: bytes, drip: bytes) -> Dripper:
        made.append(Dripper(prefix, drip, every=0.1))
        return made[-1]

    yield make
    for dripper in made:
        dripper.stop()


@pytest.mark.parametrize("phase", [HEAD_DRIP, BODY_DRIP], ids=["header-block", "body"])
def test_a_dripping_server_cannot_outlast_the_timeout(dripper_factory, phase):
    """A byte every 0.1 s never lets one read time out; the request still ends at
    SK_HTTP_TIMEOUT, and its connection is closed then."""
    dripper = dripper_factory(*phase)
    started = time.monotonic()
    with HttpSession(timeout=1) as client, pytest.raises(NetworkError) as caught:
        client.send("POST", f"{dripper.url}/x", idempotent=False, json={})
    assert str(caught.value) == "no answer within 1 s (SK_HTTP_TIMEOUT)"
    assert time.monotonic() - started < 1.8
    open_for = dripper.wait_for_closes(1)
    assert open_for and open_for[0] < 1.8


def test_the_sessions_deadline_ends_an_attempt_before_its_timeout(dripper_factory):
    dripper = dripper_factory(*BODY_DRIP)
    started = time.monotonic()
    client = HttpSession(timeout=10, retry=RetryPolicy(max_retries=0))
    with client, client.deadline(time.monotonic() + 1), pytest.raises(NetworkError) as caught:
        client.send("GET", f"{dripper.url}/x", idempotent=True)
    assert str(caught.value) == "no answer before the command's time limit"
    assert time.monotonic() - started < 1.8


def test_a_timed_out_read_is_retried_each_attempt_bounded(dripper_factory):
    dripper = dripper_factory(*BODY_DRIP)
    pauses: list[float] = []
    started = time.monotonic()
    with HttpSession(timeout=0.5, sleep=pauses.append) as client, pytest.raises(NetworkError):
        client.send("GET", f"{dripper.url}/x", idempotent=True)
    assert len(pauses) == 3  # a read: the first attempt and three retries, each cut at 0.5 s
    assert time.monotonic() - started < 4 * 0.5 + 1
