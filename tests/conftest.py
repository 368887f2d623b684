"""Shared fixtures. Each area keeps its own fixture module, registered here."""

pytest_plugins = [
    "tests.fixtures_redis",
    "tests.fixtures_postgres",
    "tests.fixtures_store",
    "tests.fixtures_runtime",
    "tests.fixtures_api",
]
