"""Credential names, URL redaction and secret scrubbing, without I/O.

docs/reliability.md test 36 (secret canaries) and test 46 (credential query parameters).
"""

from __future__ import annotations

import pytest

from hiveframe._secrets import (
    SecretNames,
    SecretValues,
    drop_query_params,
    is_secret_name,
    redact_url,
)
from hiveframe.errors import HTTPStatusError

SECRET = "s3cr3t/value+42"


@pytest.mark.parametrize(
    "name",
    [
        # query parameters that services use for credentials
        "key",
        "Key",
        "apikey",
        "api-key",
        "api_key",
        "apiKey",
        "X-API-Key",
        "sig",
        "signature",
        "X-Amz-Signature",
        "X-Goog-Credential",
        "code",
        "appid",
        "app_id",
        "app_key",
        "client_secret",
        "client_assertion",
        "password",
        "passwd",
        "pwd",
        "auth",
        "access_key",
        "aws_secret_access_key",
        "access_token",
        "refresh_token",
        "id_token",
        "session",
        "sessionid",
        "JSESSIONID",
        "secret",
        "private_token",
        "jwt",
        "token",
        "subscription-key",
        "Ocp-Apim-Subscription-Key",
        "x-functions-key",
        # headers
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        "X-Auth-Token",
    ],
)
def test_credential_names_are_secret_in_any_spelling(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "q",
        "page",
        "limit",
        "offset",
        "cursor",
        "client_id",  # an identifier, public by design (RFC 6749 2.2)
        "author",
        "country_code",
        "sort_key",
        "Idempotency-Key",
        "Content-Type",
        "pageToken",
        "next_page_token",
        "continuationToken",
        "NextToken",
    ],
)
def test_ordinary_names_and_pagination_cursors_are_not_secret(name):
    assert not is_secret_name(name)


def test_names_given_by_the_user_match_without_case_dashes_or_underscores():
    names = SecretNames(["tenant_pin"])
    assert "tenant_pin" in names and "Tenant-PIN" in names and "tenantPin" in names
    assert "tenant" not in names


def test_redaction_masks_only_the_credentials_and_keeps_the_rest_as_written():
    url = "https://u:pw@api.example/v1/items?key=abc&q=a%20b&Sig=x%2Fy&tenant=9&flag#frag"
    assert redact_url(url, ["tenant"]) == (
        "https://***@api.example/v1/items?key=***&q=a%20b&Sig=***&tenant=***&flag#frag"
    )


def test_a_token_in_the_fragment_is_masked():
    url = "https://app.example/cb#access_token=abc&state=1"
    assert redact_url(url) == "https://app.example/cb#access_token=***&state=1"


def test_dropping_credentials_from_a_url_keeps_the_other_parameters_as_written():
    values = SecretValues([SECRET])
    url = f"https://cdn.example/f?key=1&copy={SECRET}&q=a%20b&page=2"
    assert drop_query_params(url, SecretNames(), values) == "https://cdn.example/f?q=a%20b&page=2"


def test_every_encoding_of_a_secret_is_scrubbed():
    quoted = 'p"w\\d+1 2'  # a quote, a backslash, a plus and a space
    values = SecretValues([quoted])
    shown = [quoted, "p%22w%5Cd%2B1%202", "p%22w%5Cd%2B1+2", 'p\\"w\\\\d+1 2', repr(quoted)[1:-1]]
    assert values.scrub(" | ".join(shown)) == " | ".join(["***"] * len(shown))


def test_a_secret_cut_off_at_the_end_of_an_excerpt_is_masked():
    values = SecretValues([SECRET])
    assert values.scrub("token: s3cr3t/va", cut=True) == "token: ***"
    assert values.scrub("token: s3cr3t/va") == "token: s3cr3t/va"  # whole text: no cut
    assert values.scrub("ends with s3c", cut=True) == "ends with s3c"  # too short to tell


def test_short_values_are_not_scrubbed_from_text():
    values = SecretValues(["abc"])
    assert values.scrub("abcdef") == "abcdef"
    assert not values.holds("abc")


def test_header_values_are_known_whole_and_without_their_scheme():
    values = SecretValues()
    values.add_header("Authorization", "Bearer tok-123456")
    values.add_header("Cookie", "sid=cookie-9876; theme=dark")
    text = "saw tok-123456 and cookie-9876"
    assert values.scrub(text) == "saw *** and ***"


def test_an_error_and_its_chain_are_scrubbed_and_a_chained_error_that_still_shows_one_is_cut():
    values = SecretValues([SECRET])

    class Opaque(Exception):
        def __str__(self) -> str:
            return f"opaque {SECRET}"

    inner = ValueError(f"inner {SECRET}")
    outer = HTTPStatusError("GET failed", status=500, url="u", body_excerpt=f"echo {SECRET}")
    outer.__cause__ = inner
    inner.__context__ = Opaque()
    values.scrub_error(outer)

    assert SECRET not in str(outer) and SECRET not in repr(outer)
    assert SECRET not in outer.body_excerpt and "echo ***" in str(outer)
    assert outer.__cause__ is inner and str(inner) == "inner ***"
    assert inner.__context__ is None  # its text could not be scrubbed: cut from the chain
