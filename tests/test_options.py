"""Bad options fail at construction with a ConfigError naming the option and the value."""

from __future__ import annotations

import pytest

from hiveframe.connectors import HTTPSource
from hiveframe.errors import ConfigError

URL = "https://api.example.com/data"


@pytest.mark.parametrize(
    ("options", "option", "shown"),
    [
        ({"pagination": "bogus"}, "pagination", "'bogus'"),
        ({"pagination": "offset", "page_size": -5}, "page_size", "-5"),
        ({"page_size": 0, "pagination": "page"}, "page_size", "0"),
        ({"max_pages": 0}, "max_pages", "0"),
        ({"auth": {"type": "bearer"}}, "auth.token", "***"),
        ({"auth": {"type": "bearer", "token": ""}}, "auth.token", "***"),
        ({"auth": {"type": "magic"}}, "auth.type", "'magic'"),
        ({"auth": {"type": "basic", "password": "x"}}, "auth.username", "None"),
        (
            {"auth": {"type": "oauth2", "token_url": "https://a/t", "client_id": "c"}},
            "auth.client_secret",
            "***",
        ),
        (
            {
                "auth": {
                    "type": "oauth2",
                    "token_url": "http://a/t",
                    "client_id": "c",
                    "client_secret": "s",
                }
            },
            "auth.token_url",
            "'http://a/t'",
        ),
        ({"response_format": "xml"}, "response_format", "'xml'"),
        ({"data_path": "$.[[["}, "data_path", "'$.[[['"),
        ({"method": "FETCH"}, "method", "'FETCH'"),
        ({"timeout_seconds": -1}, "timeout_seconds", "-1"),
        ({"retry": 3}, "retry", "3"),
        ({"parser": "not callable"}, "parser", "'not callable'"),
        ({"schema_drift": "loose"}, "schema_drift", "'loose'"),
    ],
)
def test_bad_option_is_named_with_its_value(options, option, shown):
    with pytest.raises(ConfigError) as info:
        HTTPSource(URL, **options)
    assert info.value.option == option
    assert str(info.value).startswith(f"{option}={shown}")


@pytest.mark.parametrize("url", ["api.example.com/data", "ftp://x/y", "https://", 42])
def test_url_without_scheme_or_host(url):
    with pytest.raises(ConfigError) as info:
        HTTPSource(url)
    assert info.value.option == "url"


def test_config_error_is_also_a_value_error():
    with pytest.raises(ValueError):
        HTTPSource(URL, pagination="bogus")


def test_a_secret_in_a_bad_url_is_not_shown():
    with pytest.raises(ConfigError) as info:
        HTTPSource("user:hunter2@api.example.com/data?token=hunter3")
    assert "hunter2" not in str(info.value)
