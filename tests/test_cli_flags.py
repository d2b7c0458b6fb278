"""The command's surface: ``--version``, help for every argument, a typo named by its
subcommand, credentials from environment variables, ``--verbose`` request logs with
credentials masked, progress only on a terminal, and shell completion. Commands run in
subprocesses against loopback servers."""

from __future__ import annotations

import base64
import re
import shutil
import ssl
import subprocess

import orjson
import pytest
import trustme

from cli_process import hiveframe, in_terminal, one_line
from hiveframe import __version__
from hiveframe.cli import _parser
from hiveframe.cli._completion import ZSH_PRELUDE
from hiveframe.demo import LoopbackServer, Reply

ROWS = Reply(200, {"Content-Type": "application/json"}, b'[{"id": 1}, {"id": 2}]')
SECRET = "s3cret-from-env"


def test_version():
    result = hiveframe("--version")
    assert (result.returncode, result.stdout) == (0, f"hiveframe {__version__}\n")


def all_parsers():
    root = _parser()
    commands = next(a for a in root._actions if a.dest == "command").choices
    return [root, *commands.values()]


@pytest.mark.parametrize("parser", all_parsers(), ids=lambda p: p.prog)
def test_every_argument_has_help(parser):
    missing = [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if not action.help and action.dest != "command"
    ]
    assert missing == []


def test_a_typo_is_named_by_its_subcommand_with_the_closest_option(fresh_demo):
    result = hiveframe("read", fresh_demo.url("/data"), "--pagesize", "10")
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "hiveframe read: error: unrecognized arguments: --pagesize 10 "
        "(did you mean --page-size?) (see hiveframe read --help)"
    )
    assert fresh_demo.requests == []


@pytest.fixture
def api(serve):
    return serve({"/d": lambda request: ROWS})


@pytest.mark.parametrize(
    ("flag", "value", "env", "sent"),
    [
        ("--bearer-env", "TOKEN", {"TOKEN": SECRET}, ("authorization", f"Bearer {SECRET}")),
        (
            "--basic-env",
            "API_USER:API_PASS",
            {"API_USER": "ada", "API_PASS": SECRET},
            ("authorization", "Basic " + base64.b64encode(f"ada:{SECRET}".encode()).decode()),
        ),
        ("--api-key-env", "X-Api-Key:KEY", {"KEY": SECRET}, ("x-api-key", SECRET)),
        ("--api-key-query-env", "api_key:KEY", {"KEY": SECRET}, ("?api_key", SECRET)),
    ],
)
def test_credentials_come_from_environment_variables(api, flag, value, env, sent):
    result = hiveframe("read", api.url("/d"), flag, value, "--verbose", **env)
    assert result.returncode == 0, result.stderr
    (request,) = api.requests
    name, expected = sent
    got = request.query.get(name[1:]) if name.startswith("?") else request.header(name)
    assert got == expected
    assert "GET http://127.0.0.1" in result.stderr and "-> 200 in" in result.stderr
    assert SECRET not in result.stderr and SECRET not in result.stdout


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--bearer-env", "UNSET_VAR"], "--bearer-env"),
        (["--basic-env", "UNSET_USER:UNSET_PASS"], "--basic-env"),
        (["--basic-env", "ONLY_ONE"], "--basic-env"),
        (["--api-key-env", "X-Key:UNSET_VAR"], "--api-key-env"),
        (["--oauth-secret-env", "UNSET_VAR"], "--oauth-secret-env"),
        (["--oauth-client-id", "me"], "--oauth-client-id"),
    ],
)
def test_a_missing_variable_or_partner_flag_is_a_usage_error(api, args, flag):
    result = hiveframe("read", api.url("/d"), *args)
    assert result.returncode == 2
    assert one_line(result.stderr).startswith(f"hiveframe: error: {flag}=")
    assert api.requests == []


def test_two_kinds_of_auth_are_refused(api):
    result = hiveframe("read", api.url("/d"), "--bearer-env", "A", "--basic-env", "B:C")
    assert result.returncode == 2
    assert "not allowed with argument" in one_line(result.stderr)


def test_oauth_client_secret_from_the_environment(serve, tmp_path):
    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    token = orjson.dumps({"access_token": "tok-42", "token_type": "Bearer", "expires_in": 600})
    api = serve({"/d": lambda r: ROWS})
    with LoopbackServer(
        {"/token": lambda r: Reply(200, {"Content-Type": "application/json"}, token)},
        ssl_context=context,
    ) as issuer:
        result = hiveframe(
            "read",
            api.url("/d"),
            "--oauth-token-url",
            issuer.url("/token"),
            "--oauth-client-id",
            "client-7",
            "--oauth-secret-env",
            "CLIENT_SECRET",
            "-v",
            CLIENT_SECRET=SECRET,
            SSL_CERT_FILE=str(bundle),  # the system's trust store, as the TLS library reads it
        )
    assert result.returncode == 0, result.stderr
    basic = base64.b64encode(f"client-7:{SECRET}".encode()).decode()
    assert issuer.requests[0].header("authorization") == f"Basic {basic}"
    assert api.requests[0].header("authorization") == "Bearer tok-42"
    assert SECRET not in result.stderr and "tok-42" not in result.stderr


def test_verbose_logs_each_request_with_credentials_masked(fresh_demo):
    url = fresh_demo.url("/data?key=k-0123456789")
    result = hiveframe("read", url, "--pagination", "offset", "--page-size", "100", "-v")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if " -> 200 in " in line]
    # each request answered is logged (a page asked for ahead and cancelled at the end is not)
    assert 3 <= len(lines) <= len(fresh_demo.requests)
    assert all(line.startswith("hiveframe: GET http://127.0.0.1:") for line in lines)
    assert "key=***" in lines[0] and "k-0123456789" not in result.stderr


def test_no_progress_when_stderr_is_not_a_terminal(fresh_demo, tmp_path):
    out = tmp_path / "all.parquet"
    result = hiveframe("read", fresh_demo.url("/data"), "--pagination", "offset", "-o", str(out))
    assert result.returncode == 0
    (line,) = result.stderr.splitlines()  # the summary alone
    assert line.startswith(f"wrote 250 records to {out}")


def test_a_terminal_shows_a_bar_with_the_total(fresh_demo, tmp_path):
    out = tmp_path / "some.jsonl"
    paged = ("--pagination", "offset", "--page-size", "100")
    code, shown = in_terminal(
        "read", fresh_demo.url("/data"), *paged, "--limit", "150", "-o", str(out)
    )
    assert code == 0, shown
    last = shown.replace("\r\n", "\n").split("\r")[-1]
    assert re.search(r"100%\|\S+\| 150/150 records \[.*records/s, pages 2\]", last), shown
    assert "wrote 150 records" in shown


def busy_once_collection():
    """250 records at ``items`` with their ``total``, offset pages; page 1 answers 503 once."""
    busy = {"100"}

    def handler(request):
        offset, limit = int(request.query["offset"]), int(request.query["limit"])
        if str(offset) in busy:
            busy.discard(str(offset))
            return Reply(503, {"Retry-After": "0"}, b"busy")
        items = [{"id": i} for i in range(offset, min(offset + limit, 250))]
        body = orjson.dumps({"items": items, "total": 250})
        return Reply(200, {"Content-Type": "application/json"}, body)

    return handler


def test_a_terminal_shows_the_total_the_api_reports_and_the_retries(serve, tmp_path):
    server = serve({"/items": busy_once_collection()})
    out = tmp_path / "all.jsonl"
    code, shown = in_terminal(
        "read",
        server.url("/items"),
        *("--pagination", "offset", "--page-size", "100", "--data-path", "items"),
        *("--total-path", "total", "-o", str(out)),
    )
    assert code == 0, shown
    last = shown.replace("\r\n", "\n").split("\r")[-1]
    assert re.search(r"100%\|\S+\| 250/250 records \[.*, pages 3, retries 1\]", last), shown
    assert len(server.requests) == 4  # the total is known: no page is asked for past it


def test_total_path_needs_offset_or_page_pagination(api):
    result = hiveframe("read", api.url("/d"), "--pagination", "cursor", "--total-path", "total")
    assert result.returncode == 2
    assert one_line(result.stderr).startswith("hiveframe: error: --total-path='total': ")


def test_quiet_keeps_a_terminal_free_of_progress(fresh_demo, tmp_path):
    out = tmp_path / "all.jsonl"
    code, shown = in_terminal("read", fresh_demo.url("/data"), "-q", "-o", str(out))
    assert code == 0
    (line,) = shown.strip().splitlines()  # the summary alone
    assert line.startswith(f"wrote 100 records to {out}")


BASH_COMPLETE = """
complete_words() {
    COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=()
    _hiveframe; echo "${COMPREPLY[*]}"
}
complete_words hiveframe wr
complete_words hiveframe read URL --page
complete_words hiveframe read URL --pagination c
complete_words hiveframe write FILE URL --input-format p
complete_words hiveframe completion z
"""


def test_bash_completion_completes_commands_options_and_choices():
    script = hiveframe("completion", "bash")
    assert script.returncode == 0
    done = subprocess.run(
        ["bash", "-c", script.stdout + BASH_COMPLETE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.splitlines() == ["write", "--page-size", "cursor", "parquet", "zsh"]


ZSH_COMPLETE = """
setopt ksharrays  # as bashcompinit's wrapper sets it around a bash completion function
COMP_WORDS=(hiveframe read URL --pag) COMP_CWORD=3 COMPREPLY=()
_hiveframe; print -rl -- "${COMPREPLY[@]}"
"""


def test_zsh_completion_is_the_bash_function_through_bashcompinit():
    script = hiveframe("completion", "zsh")
    bash = hiveframe("completion", "bash")
    assert script.stdout == ZSH_PRELUDE + bash.stdout


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completion_runs_in_zsh():
    script = hiveframe("completion", "zsh")
    done = subprocess.run(
        ["zsh", "-f", "-c", script.stdout + ZSH_COMPLETE],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # bashcompinit's compgen leaves matching the word typed to zsh: every option comes back
    assert {"--pagination", "--page-size", "--proxy"} <= set(done.stdout.split())
