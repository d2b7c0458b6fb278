"""``hiveframe explain URL``, run as a user runs it: a subprocess against the demo API."""

from __future__ import annotations

import orjson

from cli_process import hiveframe, one_line


def test_explain_prints_the_first_page_and_the_evidence(fresh_demo):
    done = hiveframe(
        "explain", fresh_demo.url("/cursor"), "--pagination", "auto", "--data-path", "data",
        "--bearer-env", "DEMO_TOKEN", DEMO_TOKEN="tok-SECRET-42",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == f"request: GET {fresh_demo.url('/cursor')}"
    assert "  Authorization: ***" in lines
    assert "pagination: auto -> cursor (field next_cursor at $.next_cursor)" in lines
    assert "tok-SECRET-42" not in done.stdout
    assert len(fresh_demo.requests) == 1


def test_offline_json_sends_nothing_and_needs_no_output_for_a_state(fresh_demo, tmp_path):
    state = tmp_path / "state.json"
    done = hiveframe(
        "explain", fresh_demo.url("/data"), "--offline", "--format", "json",
        "--state", str(state), "--cursor-field", "updated_at", "--cursor-param", "since",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert report["fetched"] is False
    assert report["pagination"] == {"value": "none", "evidence": "pagination not set"}
    assert report["checkpoint"].startswith(f"the largest updated_at read, saved to {state}")
    assert fresh_demo.requests == []
    assert not state.exists()


def test_user_mistakes_exit_2_in_one_line(fresh_demo):
    url = fresh_demo.url("/data")
    for args, expected in [
        (("--pagination", "auto", "--page-size", "10"), "page_size=10: pagination='auto' cannot"),
        (("--pagination", "sideways"), "argument --pagination: invalid choice: 'sideways'"),
    ]:
        done = hiveframe("explain", url, *args)
        assert done.returncode == 2
        assert expected in one_line(done.stderr)
    done = hiveframe("explain", "ftp://example.test/x", "--offline")
    assert done.returncode == 2
    assert one_line(done.stderr).startswith("hiveframe: error: url=")
    assert fresh_demo.requests == []


def test_a_failed_first_request_exits_1_in_one_line(serve):
    from hiveframe.demo import Reply

    server = serve({"/gone": lambda request: Reply(404, {}, b"")})
    done = hiveframe("explain", server.url("/gone"))
    assert done.returncode == 1
    assert "404" in one_line(done.stderr)
