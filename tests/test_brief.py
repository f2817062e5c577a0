"""The meeting brief: one data dict, three formats, every CJK character visible.

Built from a real answer of the fast-tier engine. The DOCX is read back with python-docx;
the PDF is turned into text and into pixels with pypdfium2: its text must carry the
client's words and the attribution, its CJK characters must come from an embedded CJK
font, and each distinct character must draw a distinct glyph (missing glyphs all draw the
same .notdef box, "tofu").
"""

from __future__ import annotations

import io
import re

import pytest

from tongdian.core.brief import DISCLAIMER, brief_markdown, build_brief
from tongdian.core.brief_docx import brief_docx

CLIENT = "某城市商业银行"
CJK = re.compile(r"[\u3400-\u9fff]")


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
    md = brief_markdown(brief, "http://tongdian.bank")
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
    fonts = doc.styles["Normal"].element.rPr.rFonts
    assert "CJK" in fonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia")


def _pdf(brief):  # type: ignore[no-untyped-def]
    try:
        from tongdian.core.brief_pdf import PdfUnavailable, brief_pdf
        return brief_pdf(brief)
    except PdfUnavailable as e:  # pragma: no cover - CI installs pango
        pytest.skip(str(e))


def test_pdf_text_and_every_cjk_glyph_renders(brief) -> None:  # type: ignore[no-untyped-def]
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    data = _pdf(brief)
    assert data.startswith(b"%PDF")
    pdf = pdfium.PdfDocument(data)
    assert 1 <= len(pdf) <= 3, f"a brief is one to three pages, got {len(pdf)}"
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    flat = re.sub(r"\s+", "", text)
    assert "会前简报" in flat and CLIENT in flat and "2026-12-01" in flat
    for p in brief["problems"]:
        assert re.sub(r"\s+", "", f"{p['id']}{p['title']}") in flat
    assert "毕马威" in flat and re.sub(r"\s+", "", DISCLAIMER) in flat

    scale = 3
    glyphs: dict[str, bytes] = {}
    fonts: set[str] = set()
    for i in range(len(pdf)):
        page = pdf[i]
        tp = page.get_textpage()
        img = page.render(scale=scale).to_pil().convert("L")
        height = page.get_height()
        buf = ctypes.create_string_buffer(256)
        flags = ctypes.c_int()
        for j in range(tp.count_chars()):
            ch = tp.get_text_range(j, 1)
            if not CJK.match(ch):
                continue
            raw.FPDFText_GetFontInfo(tp.raw, j, buf, 256, ctypes.byref(flags))
            fonts.add(buf.value.decode("latin-1"))
            left, bottom, right, top = tp.get_charbox(j)
            box = (int(left * scale), int((height - top) * scale),
                   int(right * scale) + 1, int((height - bottom) * scale) + 1)
            crop = img.crop(box).resize((24, 24))
            assert min(crop.tobytes()) < 128, f"{ch!r} draws nothing"
            glyphs.setdefault(ch, crop.point(lambda v: 255 if v > 128 else 0).tobytes())
    assert len(glyphs) > 50
    assert all("CJK" in f or "Noto" in f or "Han" in f for f in fonts), fonts
    # tofu draws the same box for every missing character: distinct characters must draw
    # (almost all) distinct glyphs; a few look-alikes at this size are allowed
    assert len(set(glyphs.values())) >= 0.95 * len(glyphs)


def test_pdf_fetches_nothing() -> None:
    from tongdian.core.brief_pdf import _no_fetch

    with pytest.raises(ValueError, match="fetch nothing"):
        _no_fetch("http://example.com/font.woff")


def test_control_characters_cannot_break_a_document(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    from docx import Document

    r = tiny_engine.search("好资产\x07太难找了\x1b，钱贷不出去", 3)
    b = build_brief(r, tiny_engine.corpus, client="银\x08行", date="\x08", title="简\x0c报")
    doc = Document(io.BytesIO(brief_docx(b)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "好资产太难找了" in text and "银行" in text and "简报" in text


# -- issue 23: a brief a consultant hands to an executive ------------------------------------------


def test_no_brief_without_a_match(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    from tongdian.core.brief import NothingToBrief

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
    md = brief_markdown(brief, base)
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
    from tongdian.core.brief import QUOTE_CHARS, cut, describe
    from tongdian.core.models import SearchResponse

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
    from tongdian.core.models import Segment

    return Segment(text=text, matched=problem, id=pid, title=None, confidence=0.9 if problem else 0.0,
                   problem=problem)


def _result(pid: str, segment: str):  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    return SimpleNamespace(id=pid, evidence=SimpleNamespace(segment=segment))


def test_passages_drop_headings_and_speakers() -> None:
    from tongdian.core.brief import _passage_text

    assert _passage_text("三、老旧的核心系统。\n核心系统已经用了将近二十年") == "核心系统已经用了将近二十年"
    assert _passage_text("总经理坦言，现在拉一笔存款比放一笔贷款还难") == "现在拉一笔存款比放一笔贷款还难"
