"""Settings: the public host every URL names."""

from __future__ import annotations

import pytest

from starling.config import Settings


@pytest.mark.parametrize(
    ("listen", "domain", "url"),
    [
        ({}, "127.0.0.1:8080", "http://127.0.0.1:8080"),
        ({"host": "0.0.0.0", "port": 9000}, "127.0.0.1:9000", "http://127.0.0.1:9000"),
        ({"host": "::1"}, "[::1]:8080", "http://[::1]:8080"),
        ({"host": "localhost"}, "localhost:8080", "http://localhost:8080"),
        ({"host": "10.0.0.5"}, "10.0.0.5:8080", "https://10.0.0.5:8080"),
        ({"domain": "social.example"}, "social.example", "https://social.example"),
    ],
)
def test_public_host_is_where_the_api_listens_unless_a_domain_is_set(
    listen: dict[str, object], domain: str, url: str
) -> None:
    settings = Settings.model_validate(listen)
    assert settings.public_domain == domain
    assert settings.public_url == url
