"""The evaluation sets measure the project, so none of their text may sit in it.

Every statement of the corpus (examples, written examples, out-of-scope and bank-related
calibration) is compared with every query of ``../shared/eval`` in two ways that catch
different copies: character bigrams (a sentence copied or lightly edited) and the embedding
(a close paraphrase that shares few characters). The tests' own string literals get the
bigram check too: an eval query must not hide in an expected string either.
"""

from __future__ import annotations

import ast
import json
import re

import numpy as np
import pytest

from tests.conftest import CORPUS, PROJECT_ROOT, SHARED
from tongdian.core.knowledge.corpus import load_corpus
from tongdian.core.search.engine import Engine

pytestmark = pytest.mark.shared

#: Bigram Jaccard above this is a copy or a light edit (unrelated texts on one topic: < 0.3).
MAX_BIGRAM_JACCARD = 0.5
#: Cosine above this is a paraphrase; same-topic statements in other words stay below 0.95.
MAX_COSINE = 0.95


def _grams(text: str) -> set[str]:
    s = re.sub(r"\s+", "", text.lower())
    if re.search(r"[\u4e00-\u9fff]", s):
        return {s[i : i + 2] for i in range(len(s) - 1)}
    return set(re.findall(r"[a-z]{3,}", s))


def _eval_queries() -> list[tuple[str, str]]:
    out = []
    for f in sorted((SHARED / "eval").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line)
                out.append((q["id"], q["query"]))
    return out


ASK_DEV = PROJECT_ROOT / "bench" / "data" / "ask_dev.jsonl"
ASK_INDEP = PROJECT_ROOT / "bench" / "data" / "ask_indep.jsonl"
ASK_INDEP2 = PROJECT_ROOT / "bench" / "data" / "ask_indep2.jsonl"
ASK_INDEP3 = PROJECT_ROOT / "bench" / "data" / "ask_indep3.jsonl"


def _ask_questions() -> list[str]:
    """The corpus's example questions about the report (``corpus/ask.yaml``)."""
    from tongdian.core.answers.ask import load_ask

    f = load_ask(load_corpus(CORPUS))
    return [q for section in (f.risks, f.technologies, f.cooperation, f.cases)
            for item in section.values() for q in item.questions]


def _ask_dev() -> list[tuple[str, str]]:
    """The public ask sets (ours and the three independently written ones): they measure the example
    questions, so those must not copy them."""
    return [(r["id"], r["q"]) for path in (ASK_DEV, ASK_INDEP, ASK_INDEP2, ASK_INDEP3)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() for r in [json.loads(line)]]


def _statements() -> list[str]:
    c = load_corpus(CORPUS)
    texts = [t for p in c.painpoints for t in (*p.examples, *p.written_examples)]
    return texts + list(c.out_of_scope) + _ask_questions()


def _near(texts: list[str], queries: list[tuple[str, str]]) -> list[str]:
    hits = []
    qgrams = [(qid, g) for qid, q in queries if len(g := _grams(q)) >= 4]
    for t in texts:
        g = _grams(t)
        if len(g) < 6:
            continue
        for qid, qg in qgrams:
            j = len(g & qg) / len(g | qg)
            if j > MAX_BIGRAM_JACCARD:
                hits.append(f"{qid} ~ {t[:60]!r} (bigram Jaccard {j:.2f})")
    return hits


def test_no_corpus_statement_copies_an_eval_query_by_characters() -> None:
    assert _near(_statements(), _eval_queries()) == []


def test_no_test_string_copies_an_eval_query() -> None:
    literals = []
    for f in sorted((PROJECT_ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.append(node.value)
    assert _near(literals, _eval_queries()) == []


def test_no_corpus_statement_paraphrases_an_eval_query(engine: Engine) -> None:
    """Cosine between each eval query and every indexed statement, as the engine embeds them."""
    ev = engine.evidence
    stmts = np.vstack([ev.dense.vectors()[ev.view_is_example], ev.oos_vectors])
    texts = [v.text for v in ev.views if v.is_query_like] + list(engine.corpus.out_of_scope)
    queries = _eval_queries()
    qv = engine.embedder.embed_queries([q for _, q in queries])
    sims = qv @ stmts.T
    worst = np.argwhere(sims > MAX_COSINE)
    found = [f"{queries[i][0]} ~ {texts[j][:60]!r} (cosine {sims[i, j]:.3f})" for i, j in worst]
    assert found == []


def test_no_corpus_question_copies_an_ask_dev_question() -> None:
    """The ask set was written first; the corpus's questions vary its words and structure."""
    assert _near(_ask_questions(), _ask_dev()) == []


def test_no_corpus_question_paraphrases_an_ask_dev_or_eval_query(engine: Engine) -> None:
    qs = _ask_questions()
    queries = _ask_dev() + _eval_queries()
    qv = engine.embedder.embed_queries([q for _, q in queries])
    sims = qv @ engine.asker.q_vecs.T
    found = [f"{queries[i][0]} ~ {qs[j][:60]!r} (cosine {sims[i, j]:.3f})"
             for i, j in np.argwhere(sims > MAX_COSINE)]
    assert found == []


def test_the_guard_catches_a_copy() -> None:
    """The check itself can fail: a lightly edited eval query is caught."""
    qid, q = next((qid, q) for qid, q in _eval_queries() if len(q) > 30)
    edited = q[:-3] + "。"
    assert _near([edited], [(qid, q)])
