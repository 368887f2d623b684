"""The private PostgreSQL server of tests and benchmarks: where its binaries are found,
and stopping and starting it again on the same port and data."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from starling import localpostgres
from starling.localpostgres import LocalPostgres, PostgresUnavailable


def test_binaries_off_path_are_found_in_the_newest_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for version in ("9", "15", "13"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "initdb").touch()
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(localpostgres, "DEBIAN_BINARIES", f"{tmp_path}/*/bin")
    assert localpostgres.find_binary("initdb") == f"{tmp_path}/15/bin/initdb"
    with pytest.raises(PostgresUnavailable):
        localpostgres.find_binary("pg_ctl")


@pytest.mark.postgres
def test_stopped_server_starts_again_with_its_data_on_its_port(own_postgres: LocalPostgres) -> None:
    server = own_postgres
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (a BIGINT)")
        conn.execute("INSERT INTO t VALUES (1)")
    server.stop("immediate")  # as a crash would
    assert not server.is_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2).close()
    server.start()
    with psycopg.connect(server.url) as conn:
        assert conn.execute("SELECT a FROM t").fetchall() == [(1,)]
