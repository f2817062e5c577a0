"""The meeting brief: one data dict, three formats, every CJK character visible.

Built from a real answer of the fast-tier engine. The DOCX is read back with python-docx;
the PDF is rendered in a render worker under a fontconfig that sees no system font, then
turned into text and into pixels with pypdfium2: its text must carry the client's words
and the attribution, its CJK characters must come from the font tongdian ships, and each
distinct character must draw a distinct glyph (missing glyphs all draw the same .notdef
box, "tofu").
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest

from tests.briefsupport import assert_cjk_drawn_in_shipped_font, fontconfig_file
from tongdian.api.links import brief_links
from tongdian.api.renderpool import RenderPool
from tongdian.core.answers.brief import DISCLAIMER, brief_markdown, build_brief
from tongdian.core.answers.brief_docx import CJK_FONT, brief_docx
from tongdian.core.answers.brief_pdf import _face_bytes, brief_pdf, pdf_missing, shipped_font

CLIENT = "某城市商业银行"


@pytest.fixture(scope="module")
def brief(tiny_engine):  # type: ignore[no-untyped-def]
    r = tiny_engine.search("好资产太难找了，钱贷不出去；同时存款越来越难拉，都跑去理财了", 3)
    assert r.matched
    return build_brief(r, tiny_engine.corpus, client=CLIENT, date="2026-12-01",
                       title="会前简报")


def test_brief_data(brief) -> None:  # type: ignore[no-untyped-def]
    assert brief["title"] == "会前简报" and brief["client"] == CLIENT
    assert brief["date"] == "2026-12-01"
    assert brief["problems"], "at least one problem"
    p = brief["problems"][0]
    assert p["passages"] and p["approaches"] and p["risks"]
    # the first problem states each risk's controls; every risk says why this pain point has it
    assert all(rk["controls"] for rk in p["risks"])
    assert all(rk["reason"] for q in brief["problems"] for rk in q["risks"])
    assert any(a["technologies"] for a in p["approaches"])
    assert "毕马威" in "".join(d["authors"][0] for d in brief["sources"])
    assert brief["disclaimer"] == DISCLAIMER
    # nothing internal: no scores or confidences anywhere in a brief
    assert "score" not in repr(brief) and "confidence" not in repr(brief)


def test_markdown(brief) -> None:  # type: ignore[no-untyped-def]
    md = brief_markdown(brief, brief_links("http://tongdian.bank"))
    assert md.startswith("# 会前简报")
    assert f"客户：{CLIENT}" in md and "日期：2026-12-01" in md
    for p in brief["problems"]:
        assert f"{p['id']} {p['title']}" in md
        assert f"http://tongdian.bank/p/{p['id']}" in md
        for rk in p["risks"]:
            assert rk["reason"] in md
    assert "资料来源：《中国银行业转型20大痛点问题与应对思路》" in md and DISCLAIMER in md
    assert "置信度" not in md and "%" not in md.split("## 1.")[0]


def test_markdown_makes_user_text_inert(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("[点这里](http://evil) <img src=x> 好资产太难找了", 3)
    md = brief_markdown(build_brief(r, tiny_engine.corpus, client="**x**"))
    assert "](http" not in md and "<img" not in md and "**x**" not in md


def test_docx_reads_back(brief) -> None:  # type: ignore[no-untyped-def]
    from docx import Document

    doc = Document(io.BytesIO(brief_docx(brief)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "会前简报" in text and CLIENT in text and "2026-12-01" in text
    for p in brief["problems"]:
        assert f"{p['id']} {p['title']}" in text
        assert p["approaches"][0]["text"] in text
        assert p["risks"][0]["reason"] in text
        if p["risks"][0]["controls"]:
            assert "；".join(p["risks"][0]["controls"]) in text
    assert "毕马威" in text and DISCLAIMER in text
    assert doc.core_properties.title == "会前简报"


def test_docx_names_the_cjk_font_everywhere(brief) -> None:  # type: ignore[no-untyped-def]
    """Every style and the document defaults name the CJK font for East Asian text, and no
    theme reference overrides it (in Word a theme font wins over a named one)."""
    from docx import Document
    from docx.oxml.ns import qn

    styles = Document(io.BytesIO(render_in_worker(brief_docx, brief))).styles.element
    named = [f.get(qn("w:eastAsia")) for f in styles.iter(qn("w:rFonts"))]
    assert len(named) >= 5 and set(named) == {CJK_FONT}
    assert not [f for f in styles.iter(qn("w:rFonts")) if f.get(qn("w:eastAsiaTheme"))]
    langs = [x.get(qn("w:eastAsia")) for x in styles.iter(qn("w:lang"))]
    assert "zh-CN" in langs


def render_in_worker(fn, *args, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """``fn(*args)`` in a render worker of its own, as the server renders (a fontconfig
    set-up must be in place before fontconfig first loads: a fresh process guarantees it)."""
    pool = RenderPool(workers=1, timeout=120, env=env)
    try:
        return asyncio.run(pool.run(fn, *args))
    finally:
        pool.close()


def _needs_pdf() -> None:
    if missing := pdf_missing():  # pragma: no cover - the project's install brings pango
        pytest.skip(missing)


@pytest.mark.parametrize("fonts", ["only the shipped font", "no font at all"])
def test_pdf_text_and_every_cjk_glyph_renders(brief, fonts: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No system font is needed: with a fontconfig that sees only the shipped font's
    folder, and with one that knows no font at all, every Chinese character is drawn,
    each in the shipped font."""
    import pypdfium2 as pdfium

    _needs_pdf()
    font = shipped_font()
    assert font is not None, "noto-cjk-sans-otc is a dependency: its font must be installed"
    conf = fontconfig_file(tmp_path, *([font.parent] if fonts.startswith("only") else []))
    data = render_in_worker(brief_pdf, brief, env={"FONTCONFIG_FILE": str(conf)})
    assert data.startswith(b"%PDF")
    pdf = pdfium.PdfDocument(data)
    assert 1 <= len(pdf) <= 3, f"a brief is one to three pages, got {len(pdf)}"
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    flat = re.sub(r"\s+", "", text)
    assert "会前简报" in flat and CLIENT in flat and "2026-12-01" in flat
    for p in brief["problems"]:
        assert re.sub(r"\s+", "", f"{p['id']}{p['title']}") in flat
    assert "毕马威" in flat and re.sub(r"\s+", "", DISCLAIMER) in flat
    assert_cjk_drawn_in_shipped_font(data)


def test_shipped_font_is_the_simplified_chinese_face() -> None:
    """The collection holds five regional faces (and mono ones); the brief is set in the
    mainland one, whichever face fontconfig would have picked."""
    from fontTools.ttLib import TTFont

    font = shipped_font()
    assert font is not None
    face = TTFont(io.BytesIO(_face_bytes(font)))
    assert face["name"].getDebugName(1) == "Noto Sans CJK SC"
    assert "SIL Open Font License" in face["name"].getDebugName(13)
    assert face.getBestCmap()[ord("骨")]


def test_pdf_fetches_only_the_shipped_font() -> None:
    _needs_pdf()
    from tongdian.core.answers.brief_pdf import _weasy

    fetcher = _weasy()[2]
    for url in ("http://example.com/font.woff", "file:///etc/passwd",
                "data:text/css,body{}"):
        with pytest.raises(ValueError, match="fetch nothing"):
            fetcher(url)
    font = shipped_font()
    assert font is not None
    assert fetcher(font.as_uri()).read(4) == b"OTTO"  # an OpenType (CFF) font file


def test_pdf_missing_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from tongdian.core.answers import brief_pdf as mod

    monkeypatch.setitem(mod.NATIVE_LIBS, "pango", ("libno-such-pango.so.0",))
    mod.pdf_missing.cache_clear()
    try:
        missing = mod.pdf_missing()
    finally:
        monkeypatch.undo()
        mod.pdf_missing.cache_clear()
    assert missing and "libpango-1.0-0" in missing and "pip install weasyprint" in missing
    assert "Word" in missing  # and what to use meanwhile


def test_control_characters_cannot_break_a_document(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    from docx import Document

    r = tiny_engine.search("好资产\x07太难找了\x1b，钱贷不出去", 3)
    b = build_brief(r, tiny_engine.corpus, client="银\x08行", date="\x08", title="简\x0c报")
    doc = Document(io.BytesIO(brief_docx(b)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "好资产太难找了" in text and "银行" in text and "简报" in text


# -- issue 23: a brief a consultant hands to an executive ------------------------------------------


def test_no_brief_without_a_match(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    from tongdian.core.answers.brief import NothingToBrief

    r = tiny_engine.search("食堂的饭菜太咸了，能不能换个厨师", 3)
    assert not r.matched
    with pytest.raises(NothingToBrief, match="nothing to put in a brief"):
        build_brief(r, tiny_engine.corpus)


@pytest.mark.parametrize("base,linked", [
    ("http://127.0.0.1:8766", False), ("http://localhost:8000", False), ("http://[::1]:8000", False),
    ("http://0.0.0.0:8000", False), ("", False),
    ("https://tongdian.bank.example", True), ("http://10.2.3.4:8000", True),
])
def test_links_only_where_a_reader_elsewhere_can_open_them(brief, base: str, linked: bool) -> None:  # type: ignore[no-untyped-def]
    md = brief_markdown(brief, brief_links(base))
    assert ("详情：" in md) is linked
    assert "127.0.0.1" not in md and "localhost" not in md


def test_a_controls_line_is_told_once(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    r = tiny_engine.search("好资产太难找了，钱贷不出去；同时存款越来越难拉，都跑去理财了；"
                           "另外营销推广花了钱却没效果", 5)
    b = build_brief(r, tiny_engine.corpus)
    md = brief_markdown(b)
    for p in b["problems"]:
        for rk in p["risks"]:
            if rk["controls"]:
                line = "；".join(rk["controls"])
                assert md.count(line) == 1, line


def test_evidence_is_labelled_for_what_it_is(brief) -> None:  # type: ignore[no-untyped-def]
    # an example phrasing of the knowledge base is not a source: the brief cites the report
    for p in brief["problems"]:
        assert p["evidence"].startswith("报告"), p["evidence"]


def test_a_long_note_is_described_by_its_problems_not_its_first_lines() -> None:
    from tongdian.core.answers.brief import QUOTE_CHARS, cut, describe
    from tongdian.core.answers.models import SearchResponse

    opening = "参会人员：副行长、零售部总经理、科技部总经理。双方寒暄后介绍了党校培训的安排。" * 8
    problem = "我们的网点越来越冷清，一家网点一年的租金和人工要好几百万。"
    r = SearchResponse.model_construct(
        query=opening + problem, segments=[
            _seg(opening, None, False), _seg(problem, "P14", True)],
        results=[])
    shown = [_result("P14", segment=problem)]
    text, summarised = describe(r, shown)
    assert summarised and len(r.query) > QUOTE_CHARS
    assert "党校" not in text and "参会" not in text and "网点越来越冷清" in text
    # a cut falls after a sentence or clause end, marked with "…"
    assert cut("第一句话说完了。第二句话很长很长很长很长很长", 12) == "第一句话说完了…"


def _seg(text: str, pid: str | None, problem: bool):  # type: ignore[no-untyped-def]
    from tongdian.core.answers.models import Segment

    return Segment(text=text, matched=problem, id=pid, title=None, confidence=0.9 if problem else 0.0,
                   problem=problem)


def _result(pid: str, segment: str):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    return SimpleNamespace(id=pid, evidence=SimpleNamespace(segment=segment))


def test_passages_drop_headings_and_speakers() -> None:
    from tongdian.core.answers.brief import _passage_text

    assert _passage_text("三、老旧的核心系统。\n核心系统已经用了将近二十年") == "核心系统已经用了将近二十年"
    assert _passage_text("总经理坦言，现在拉一笔存款比放一笔贷款还难") == "现在拉一笔存款比放一笔贷款还难"
