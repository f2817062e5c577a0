"""The core knows no URLs: it answers with ids, and the web layer (tongdian.api.links) turns
them into the paths of its pages, for the pages, the JSON and every tool adapter alike."""

from __future__ import annotations

import re
from pathlib import Path

from tongdian.api.links import LinkedCatalog, brief_links, with_links
from tongdian.core.answers.models import SearchResponse

CORE = Path(__file__).resolve().parents[1] / "tongdian" / "core"
#: a string that opens like one of the web layer's routes
ROUTE = re.compile(r"""f?["'](/p/|/risks#|/\?tech=|/search\?)""")


def test_no_module_in_the_core_builds_a_url() -> None:
    found = [f"{p.relative_to(CORE)}:{i}" for p in CORE.rglob("*.py")
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if ROUTE.search(line)]
    assert not found, found


def _urls(r: SearchResponse) -> list[str]:
    return [a.url for a in r.answers] + [p.url for a in r.answers for p in a.painpoints]


def test_the_core_leaves_urls_empty_and_the_web_layer_fills_each_kind(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    tiny_engine.clear_caches()  # an answer the web layer served before is linked in place
    risk = tiny_engine.search("报告怎么看系统性风险").model_copy(deep=True)
    assert risk.answers and set(_urls(risk)) == {""}
    with_links(risk)
    assert risk.answers[0].url == "/risks#systemic"
    assert all(p.url == f"/p/{p.id}" for p in risk.answers[0].painpoints)
    pain = with_links(tiny_engine.search("P01和P03有什么区别").model_copy(deep=True))
    assert [a.url for a in pain.answers[:2]] == ["/p/P01", "/p/P03"]
    again = pain.model_dump_json()
    assert with_links(pain).model_dump_json() == again  # idempotent: a cached answer is safe


def test_the_catalog_the_web_serves_links_every_pain_point(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    cat = LinkedCatalog(tiny_engine)
    pid = next(iter(cat.summaries))
    d = cat.detail(pid)
    assert d.url == f"/p/{pid}" and d.neighbours
    assert all(n.url == f"/p/{n.id}" for n in d.neighbours)
    assert all(c.url == f"/p/{c.id}" for r in cat.risks.risks for c in r.painpoints)


def test_briefs_link_only_to_addresses_a_reader_elsewhere_can_open() -> None:
    assert brief_links("http://127.0.0.1:8766") is None and brief_links("") is None
    link = brief_links("https://tongdian.bank.example/")
    assert link is not None and link("P14") == "https://tongdian.bank.example/p/P14"
