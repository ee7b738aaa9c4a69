"""A real PostgreSQL database per test (HARNESS_POSTGRES_URL, e.g. from .ci/postgres), for the store's tests and
the plugin's: CREATE DATABASE harness_test_<random>, dropped afterwards, so nothing leaks between tests, runs or
xdist workers. Without a reachable server the tests skip, saying how to get one."""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlsplit, urlunsplit

import pytest

from harness.history.postgres_store import printable

NO_SERVER = "no PostgreSQL server: set HARNESS_POSTGRES_URL, e.g. export HARNESS_POSTGRES_URL=$(.ci/postgres)"


@pytest.fixture(scope="module")
def server_url() -> str:
    psycopg = pytest.importorskip("psycopg")
    url = os.environ.get("HARNESS_POSTGRES_URL")
    if not url:
        pytest.skip(NO_SERVER)
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"{NO_SERVER} ({printable(url)} is unreachable: {str(exc).strip().splitlines()[0]})")
    return url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture
def pg_url(server_url):
    """The URL of a fresh, empty database of this test's own."""
    import psycopg
    from psycopg import sql

    name = f"harness_test_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege:
            pytest.fail(f"the role of {printable(server_url)} may not create databases: ALTER ROLE … CREATEDB "
                        "(.ci/postgres does)")
    try:
        yield with_database(server_url, name)
    finally:
        _drop(server_url, name)


def _drop(server_url: str, name: str, tries: int = 20) -> None:
    """DROP … WITH (FORCE) ends a killed writer's session too. A session still starting up has no role yet, and
    PostgreSQL refuses to end it (InsufficientPrivilege: a run here failed so at teardown): wait and try again."""
    import time

    import psycopg
    from psycopg import sql

    for attempt in range(tries):
        try:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            return
        except psycopg.errors.InsufficientPrivilege:
            if attempt == tries - 1:
                raise
            time.sleep(0.25)
