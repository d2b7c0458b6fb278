"""OAuth2 refresh token grant over real loopback HTTP, against a server that rotates the
refresh token on every use and refuses a used one.

Token lifetimes run on a fake clock that the resource endpoint moves on when chosen pages
are first requested, so a read lives through several access tokens.
"""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import parse_qsl

import orjson
import pytest

from clocks import FakeClock
from hiveframe._http.session import Session, SessionConfig
from hiveframe.connectors import HTTPSink, HTTPSource, OAuth2RefreshToken, OffsetPagination
from hiveframe.demo import Reply, Request
from hiveframe.errors import AuthenticationError
from waiting import WAIT

JSON = {"Content-Type": "application/json"}
TTL = 120  # seconds an access token lives; the client refreshes 60 s before


class RotatingAuthServer:
    """A token endpoint that rotates refresh tokens (each works once) and a paginated API
    that accepts only unexpired access tokens it issued, logging every token it is sent."""

    def __init__(
        self,
        records: int,
        *,
        rotate: bool = True,
        hold: threading.Event | None = None,
        ticks: dict[int, float] | None = None,
    ):
        self.clock = FakeClock()
        self.ticks = dict(ticks or {})  # offset -> seconds that pass when it is first asked for
        self.in_order = ticks is not None
        self.records = [{"id": i} for i in range(1, records + 1)]
        self.rotate = rotate
        self.hold = hold
        self.refresh_token = "rt-0-initial"
        self.presented: list[str | None] = []  # refresh tokens sent to the token endpoint
        self.rotated: list[str] = []
        self.expiry: dict[str, float] = {}  # access token -> when it expires
        self.revoked: set[str] = set()
        self.sent: list[tuple[str, bool]] = []  # (access token, valid when it arrived)
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        self._offsets: set[int] = set()  # pages answered (or refused) at least once

    def routes(self):
        return {"/token": self.token, "/items": self.items}

    def token(self, request: Request) -> Reply:
        if self.hold is not None:
            assert self.hold.wait(10)
        form = dict(parse_qsl(request.body.decode()))
        with self._lock:
            presented = form.get("refresh_token")
            self.presented.append(presented)
            if form.get("grant_type") != "refresh_token" or presented != self.refresh_token:
                error = {"error": "invalid_grant", "error_description": f"{presented} was used"}
                return Reply(400, JSON, orjson.dumps(error))
            number = len(self.expiry) + 1
            access = f"at-{number}-0123456789"
            self.expiry[access] = self.clock.now + TTL
            body = {"access_token": access, "token_type": "Bearer", "expires_in": TTL}
            if self.rotate:
                self.refresh_token = body["refresh_token"] = f"rt-{number}-abcdefghij"
                self.rotated.append(self.refresh_token)
        return Reply(200, JSON, orjson.dumps(body))

    def items(self, request: Request) -> Reply:
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        with self._answered:
            if self.in_order:
                # Pages are taken in order, so time passes at a page once every earlier one
                # was taken, whatever the server's threads did first on a busy machine.
                earlier = range(0, offset, limit)
                assert self._answered.wait_for(lambda: self._offsets.issuperset(earlier), WAIT)
            self.clock.now += self.ticks.pop(offset, 0.0)
            valid = self.clock.now < self.expiry.get(token, 0) and token not in self.revoked
            self.sent.append((token, valid))
            self._offsets.add(offset)
            self._answered.notify_all()
        if not valid:
            return Reply(401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b"{}")
        page = {"items": self.records[offset : offset + limit], "total": len(self.records)}
        return Reply(200, JSON, orjson.dumps(page))


def refresh_auth(server, api: RotatingAuthServer, rotations: list[str]) -> OAuth2RefreshToken:
    return OAuth2RefreshToken(
        server.url("/token"),
        "client-1",
        "client-secret-1",
        api.refresh_token,
        on_rotate=rotations.append,
        clock=api.clock.monotonic,
        allow_insecure_token_url=True,
    )


def items_source(server, auth, **options) -> HTTPSource:
    return HTTPSource(
        server.url("/items"),
        pagination=OffsetPagination(page_size=10, total_path="total"),
        data_path="items",
        auth=auth,
        **options,
    )


def test_three_access_tokens_over_a_read_each_refresh_rotating_the_refresh_token(serve):
    # 70 s pass at page 10 and again at page 30: each time the token the client holds is
    # within 60 s of expiry (stale for the client) but not yet expired (for the server).
    # The server takes pages in order, so with eight in flight every page sent before time
    # passed at page 10 has been answered before it passes at page 30: none can carry the
    # first token after it expired.
    api = RotatingAuthServer(400, ticks={100: 70, 300: 70})
    server = serve(api.routes())
    rotations: list[str] = []
    source = items_source(server, refresh_auth(server, api, rotations), concurrency=8)

    assert source.read().to_arrow().column("id").to_pylist() == list(range(1, 401))

    assert len(api.expiry) == 3  # the first token, then two that replaced expiring ones
    assert rotations == api.rotated == ["rt-1-abcdefghij", "rt-2-abcdefghij", "rt-3-abcdefghij"]
    # single-flight: each refresh token was presented once, the newest one each time
    assert api.presented == ["rt-0-initial", "rt-1-abcdefghij", "rt-2-abcdefghij"]
    # no page was ever requested with an expired access token
    assert len(api.sent) == 40 and all(valid for _, valid in api.sent)
    assert {token for token, _ in api.sent} == set(api.expiry)


def test_a_revoked_access_token_is_refreshed_once_on_401(serve):
    api = RotatingAuthServer(60)

    def revoke_at_the_third_page(request: Request) -> Reply:
        if request.query["offset"] == "20" and not api.revoked:
            api.revoked.add(next(iter(api.expiry)))  # the first access token
        return api.items(request)

    server = serve({"/token": api.token, "/items": revoke_at_the_third_page})
    rotations: list[str] = []
    auth = refresh_auth(server, api, rotations)
    df = items_source(server, auth, concurrency=1).read()

    assert df.count() == 60
    assert rotations == api.rotated == ["rt-1-abcdefghij", "rt-2-abcdefghij"]
    assert [valid for _, valid in api.sent] == [True, True, False, True, True, True, True]


def test_the_sink_refreshes_with_the_rotated_token_after_the_source_used_it(serve):
    api = RotatingAuthServer(10)
    stored: list[bytes] = []

    def ingest(request: Request) -> Reply:
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        if api.clock.now >= api.expiry.get(token, 0):
            return Reply(401, body=b"{}")
        stored.append(request.body)
        return Reply(200, JSON, b"{}")

    server = serve({**api.routes(), "/ingest": ingest})
    rotations: list[str] = []
    auth = refresh_auth(server, api, rotations)
    items_source(server, auth).read()
    api.clock.now += TTL  # the access token expired between the read and the write
    result = HTTPSink(server.url("/ingest"), auth=auth).write([{"id": 1}])

    assert result.records_delivered == 1 and len(stored) == 1
    assert api.presented == ["rt-0-initial", "rt-1-abcdefghij"]
    assert rotations == ["rt-1-abcdefghij", "rt-2-abcdefghij"]


def test_a_refused_refresh_token_fails_without_showing_it(serve):
    api = RotatingAuthServer(10)
    api.refresh_token = "rt-9-somewhere-else"  # the one we hold was used elsewhere
    server = serve(api.routes())
    auth = OAuth2RefreshToken(
        server.url("/token"),
        "client-1",
        "client-secret-1",
        "rt-0-initial",
        clock=api.clock.monotonic,
        allow_insecure_token_url=True,
    )
    with pytest.raises(AuthenticationError) as info:
        items_source(server, auth).read()

    assert "refused the refresh token" in str(info.value)
    assert info.value.error == "invalid_grant"
    assert "rt-0-initial" not in str(info.value) and "***" in str(info.value)
    assert "client-secret-1" not in repr(auth) and "rt-0-initial" not in repr(auth)
    assert api.sent == []


def test_a_task_waiting_for_a_cancelled_refresh_takes_it_over(serve):
    hold = threading.Event()
    api = RotatingAuthServer(10, rotate=False, hold=hold)
    server = serve(api.routes())
    auth = refresh_auth(server, api, [])

    async def scenario() -> list[str]:
        config = SessionConfig()
        async with Session(config, auth=auth, credential_url=server.url("/items")) as session:

            async def bearer() -> str:
                headers: dict[str, str] = {}
                await auth.apply(headers, {}, session.post_form)
                return headers["Authorization"]

            leader = asyncio.ensure_future(bearer())
            while not server.requests_to("/token"):  # the leader's token request is out
                await asyncio.sleep(0.001)
            follower = asyncio.ensure_future(bearer())
            await asyncio.sleep(0)  # the follower waits for the leader's refresh
            leader.cancel()
            hold.set()
            return [await follower, str(leader.cancelled())]

    follower_header, leader_cancelled = asyncio.run(scenario())
    assert leader_cancelled == "True"
    assert follower_header.startswith("Bearer at-")
    assert len(server.requests_to("/token")) == 2  # the follower led a refresh of its own
