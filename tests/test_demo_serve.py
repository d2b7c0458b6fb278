"""``hiveframe demo --serve`` in a subprocess, and a demo server that stays quiet when clients
hang up."""

from __future__ import annotations

import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import orjson
import pytest

from hiveframe.demo import ENDPOINTS, DemoServer
from waiting import WAIT, eventually

URL = re.compile(r"http://127\.0\.0\.1:\d+\S*")


@pytest.fixture
def serving() -> Iterator[subprocess.Popen[str]]:
    """``hiveframe demo --serve --port 0`` running; killed if a test leaves it running."""
    command = [sys.executable, "-m", "hiveframe.cli", "demo", "--serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--records", "300"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


def listed_endpoints(process: subprocess.Popen[str]) -> tuple[str, dict[str, str]]:
    """The base URL from the first line, then each endpoint's path and URL, one per line."""
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("demo API on http://127.0.0.1:"), first
    base = URL.findall(first)[0]
    urls = {}
    for _ in ENDPOINTS:
        line = process.stdout.readline()
        url = URL.findall(line)[0]
        urls[url.removeprefix(base)] = url
        assert line.rstrip().endswith(ENDPOINTS[url.removeprefix(base)])
    return base, urls


def get(url: str, **options: object) -> bytes:
    request = urllib.request.Request(url, **options)  # type: ignore[arg-type]
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        assert response.status == 200
        body: bytes = response.read()
        return body


def first_event(url: str) -> list[str]:
    """The lines of the stream's first event with data; then the client hangs up mid-response."""
    with urllib.request.urlopen(url, timeout=WAIT) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines: list[str] = []
        while not any(line.startswith("data: ") for line in lines):
            lines = []  # a block without data: the retry field, a heartbeat
            while line := response.readline().decode().rstrip("\n"):
                lines.append(line)
        return lines


def test_the_endpoint_list_is_the_servers_routes():
    with DemoServer(records=1) as server:
        assert set(ENDPOINTS) == set(server.routes)


def test_ingest_last_answers_the_last_body_sent_as_it_came():
    with DemoServer(records=1) as server:
        last = server.url("/ingest/last")
        with urllib.request.urlopen(last, timeout=WAIT) as response:
            assert response.status == 204  # nothing sent yet
        ndjson = {"Content-Type": "application/x-ndjson"}
        get(server.url("/ingest"), data=b'{"id": 1}\n{"id": 2}\n', headers=ndjson)
        with urllib.request.urlopen(last, timeout=WAIT) as response:
            assert response.headers["Content-Type"] == "application/x-ndjson"
            assert response.read() == b'{"id": 1}\n{"id": 2}\n'
        refused = urllib.request.Request(server.url("/ingest?status=422"), data=b"[3]")
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(refused, timeout=WAIT)
        assert get(last) == b"[3]"  # a refused body is shown too: it is what was sent
        assert orjson.loads(get(server.url("/ingest")))["records"] == 2
        with pytest.raises(urllib.error.HTTPError, match="405"):
            urllib.request.urlopen(urllib.request.Request(last, data=b"[]"), timeout=WAIT)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_serve_lists_every_endpoint_serves_them_and_stops_cleanly(serving, stop):
    base, urls = listed_endpoints(serving)
    assert set(urls) == set(ENDPOINTS)
    assert all(url.startswith(base) for url in urls.values())

    for path in ("/data", "/items", "/nested", "/pages", "/cursor", "/link", "/next"):
        assert b'"item-000001"' in get(urls[path]), path
    assert get(urls["/items.jsonl"] + "?limit=2").count(b"\n") == 2
    assert get(urls["/items.csv"] + "?limit=2").splitlines()[0].startswith(b"id,name")
    records = orjson.dumps([{"id": 1}, {"id": 2}])
    headers = {"Content-Type": "application/json"}
    assert orjson.loads(get(urls["/ingest"], data=records, headers=headers))["received"] == 2
    assert orjson.loads(get(urls["/ingest"]))["records"] == 2
    assert get(urls["/ingest/last"]) == records
    assert isinstance(orjson.loads(get(urls["/events"])), list | dict)
    assert any(line.startswith("data: ") for line in first_event(urls["/stream"]))
    until = "?until=2026-01-01T00:01:00Z"
    assert [o["id"] for o in orjson.loads(get(urls["/orders"] + until))] == [1, 2]
    nested = orjson.loads(get(urls["/orders/nested"] + until))
    assert nested[0]["meta"] == {"updated_at": "2026-01-01T00:00:00Z"}
    assert orjson.loads(get(urls["/parents"]))["total"] == 50
    assert isinstance(orjson.loads(get(urls["/parents/{id}/children"].format(id=1))), list)

    serving.send_signal(stop)
    out, err = serving.communicate(timeout=WAIT)
    assert serving.returncode == 128 + stop  # 130 after Ctrl-C, 143 after SIGTERM
    assert err == ""
    assert out == "demo API stopped\n"


def test_serve_on_a_port_that_is_taken_says_so_in_one_line(serving):
    base, _ = listed_endpoints(serving)
    port = base.rsplit(":", 1)[1]
    taken = subprocess.run(
        [sys.executable, "-m", "hiveframe.cli", "demo", "--serve", "--port", port],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert taken.returncode == 1
    assert taken.stdout == ""
    assert taken.stderr.startswith("hiveframe: error: ") and taken.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "8000"], "--port=8000: only with --serve"),
        (["--serve", "--port", "65536"], "at most 65535"),
    ],
)
def test_port_options_are_checked(argv, message):
    result = subprocess.run(
        [sys.executable, "-m", "hiveframe.cli", "demo", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr


# --------------------------------------------------------------------------- hang-ups


def _connect(server: DemoServer) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    # SO_LINGER 0: close() sends a reset, as a client that is killed or gives up does.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return client


def _read_until(client: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = client.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def _hang_up_mid_response(server: DemoServer) -> None:
    with _connect(server) as client:
        client.sendall(b"GET /data?limit=1000 HTTP/1.1\r\nHost: demo\r\n\r\n")
        _read_until(client, b'"item-000001"')


def _hang_up_on_an_idle_keep_alive_connection(server: DemoServer) -> None:
    with _connect(server) as client:
        client.sendall(b"GET /items?limit=1 HTTP/1.1\r\nHost: demo\r\n\r\n")
        head, _, body = _read_until(client, b"\r\n\r\n").partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head)[1])  # type: ignore[index]
        while len(body) < length:
            body += client.recv(65536)


def _hang_up_mid_request_body(server: DemoServer) -> None:
    with _connect(server) as client:
        client.sendall(
            b"POST /ingest HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
        )
        _read_until(client, b"100 Continue")  # the handler is reading the body now
        client.sendall(b'[{"id": 1}')


def _handler_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread not in before and thread.name.endswith("(process_request_thread)")
    ]


def test_clients_that_hang_up_make_the_server_print_nothing(capsys):
    before = set(threading.enumerate())
    with DemoServer(records=1000) as server:
        _hang_up_mid_response(server)
        _hang_up_on_an_idle_keep_alive_connection(server)
        _hang_up_mid_request_body(server)
        # Each hang-up was seen by a handler thread; once they have all ended, whatever they
        # had to say about it has been said.
        eventually(lambda: not _handler_threads(before))
        assert len(server.requests) == 2  # the third never finished sending its request
    assert capsys.readouterr().err == ""


def test_other_errors_in_the_server_are_still_reported(capsys):
    before = set(threading.enumerate())
    with DemoServer(records=1) as server:
        with _connect(server) as client:
            client.sendall(b"GET /data HTTP/1.1\r\nHost: demo\r\nContent-Length: x\r\n\r\n")
            assert client.recv(65536) == b""  # the server gave up on the request
        eventually(lambda: not _handler_threads(before))
    err = capsys.readouterr().err
    assert "Exception occurred during processing of request" in err
    assert "ValueError" in err
