"""Fixtures shared by the storage, revision, publishing and feedback tests.

``db_url`` runs each test on SQLite and, when ``TONGDIAN_TEST_PG_URL`` names a PostgreSQL
database (``.ci/run`` starts one), on PostgreSQL too: the same tests on both backends.
Import the fixtures into a test module with ``from tests.kbsupport import db_url``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PG_URL = os.environ.get("TONGDIAN_TEST_PG_URL", "")
#: The PostgreSQL half needs a server: it runs in the full suite (CI), not the fast tier.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=[pytest.mark.slow, pytest.mark.skipif(
    not PG_URL, reason="set TONGDIAN_TEST_PG_URL to a PostgreSQL database (.ci/run does)")])]
TABLES = ("revision_files", "blobs", "revisions", "feedback", "audit", "alembic_version")


def reset_pg(url: str) -> None:
    """Start from an empty database: the tests share one PostgreSQL database."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        for t in TABLES:
            con.execute(f"DROP TABLE IF EXISTS {t} CASCADE")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        reset_pg(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path / 'kb.sqlite'}"
