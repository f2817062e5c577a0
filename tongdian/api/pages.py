"""Server-rendered HTML pages; each links to its JSON twin under ``/api``.

Thin on purpose: the data comes from the same ``Catalog`` and ``engine.search`` the JSON
routes use, and the templates do the presentation. Pages work without JavaScript (the CSP
forbids scripts anyway): filters are links, search is a plain form.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tongdian.core.answers.brief import brief_markdown, build_brief, detailed
from tongdian.core.answers.models import SearchResponse
from tongdian.core.answers.permalinks import PermalinkStore
from tongdian.core.config import MAX_K, MAX_NOTE_CHARS
from tongdian.core.search.catalog import Catalog
from tongdian.core.search.engine import Engine

from .deps import CatalogDep, EngineDep, base_url, run_search
from .errors import ApiError
from .handlers import served_count
from .heatmap import heatmap_svg
from .links import brief_links
from .messages import is_english, page_message
from .render import took_label

router = APIRouter(include_in_schema=False)


#: Pain points whose first example statement is offered as a "try this" suggestion.
SUGGESTION_IDS = ("P14", "P06", "P11", "P15", "P04", "P19")
#: Queries up to this long get a GET link to their JSON twin; a longer one is a permalink's
#: (a 3,000-character URL is neither shareable nor readable in the footer).
JSON_LINK_MAX_QUERY = 300


def page(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    base = {"q": None, "json_url": None, "nav": None, "n_painpoints": served_count(request)}
    return templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status)


def suggestions(catalog: Catalog, english: bool = False) -> list[dict[str, str]]:
    """Example phrasings to try, in the language the user wrote in (English examples of the
    corpus for an English query, so a no-match page does not answer English with Chinese)."""
    corpus = catalog.engine.corpus
    out = []
    for pid in SUGGESTION_IDS:
        pp = corpus.by_id.get(pid)
        if pp is None:
            continue
        text = (next((e for e in pp.examples if is_english(e)), None) if english
                else pp.examples[0])
        if text is not None:
            out.append({"text": text, "id": pp.id, "title": pp.title_en if english else pp.title,
                        "href": "/search?" + urlencode({"q": text})})
    return out


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request,
    catalog: CatalogDep,
    tech: Annotated[str | None, Query()] = None,
    risk: Annotated[str | None, Query()] = None,
) -> Response:
    listing = catalog.listing(tech, risk)
    params = {k: v for k, v in listing.filters.items() if v}
    json_url = "/api/painpoints" + (f"?{urlencode(params)}" if params else "")

    def toggle(key: str, value: str) -> str:
        p = dict(params)
        if p.get(key) == value:
            p.pop(key)
        else:
            p[key] = value
        return "/" + (f"?{urlencode(p)}" if p else "")

    return page(request, "index.html", {
        "listing": listing, "toggle": toggle, "json_url": json_url, "nav": "home",
        "total": len(catalog.summaries), "suggestions": suggestions(catalog),
        "tech_names": {t.id: t.name for t in catalog.technologies.technologies},
        "risk_names": {r.id: r.name for r in catalog.risks.risks},
    })


@router.get("/p/{pid}", response_class=HTMLResponse)
async def painpoint(request: Request, pid: str, catalog: CatalogDep) -> Response:
    d = catalog.detail(pid)
    ids = list(catalog.summaries)
    i = ids.index(d.id)
    return page(request, "painpoint.html", {
        "p": d, "json_url": f"/api/painpoints/{d.id}", "nav": "home",
        "prev": catalog.summaries[ids[i - 1]] if i > 0 else None,
        "next": catalog.summaries[ids[i + 1]] if i + 1 < len(ids) else None,
    })


#: Longest text whose typed answer (a question about the report) is shown: questions are a
#: line or two; a meeting note read as a "comparison" would bury the pain points it names.
QUESTION_MAX_CHARS = 300
#: A passage table this long starts folded: the answers above it are what a reader wants first.
SEGMENTS_OPEN_MAX = 8


def _search_ctx(catalog: Catalog, q: str | None, k: int) -> dict[str, Any]:
    english = is_english(q)
    return {"q": q, "k": k, "r": None, "error": None, "nav": "search",
            "suggestions": suggestions(catalog, english), "json_url": "/api/search",
            "permalink": None, "english": english}


def _result_ctx(request: Request, catalog: Catalog, r: SearchResponse, k: int,
                permalink: str | None) -> dict[str, Any]:
    """What the result page shows: detailed results with bars, the rest as "其他可能".

    Nothing a passage names is lost: a pain point some passage maps to but that is neither
    detailed nor among the engine's k results is listed under "其他可能" too (from the
    catalogue), so every row of the passage table links to an entry on this page.
    """
    ctx = _search_ctx(catalog, r.query, k)
    if permalink:
        ctx["json_url"] = f"/api/r/{permalink}"
    elif len(r.query) <= JSON_LINK_MAX_QUERY:
        ctx["json_url"] = "/api/search?" + urlencode({"q": r.query, "k": k})
    else:
        ctx["json_url"] = None
    shown = detailed(r)
    shown_ids = {x.id for x in shown}
    # Highlight in the user's text only the words that evidence a match worth showing:
    # the union over all candidates would light up half the sentence and mean nothing.
    terms = list(dict.fromkeys(t for x in shown for t in x.evidence.matched_terms))
    by_id = {x.id: x.evidence.matched_terms for x in r.results}
    seg_terms = [by_id.get(s.id or "", []) if s.matched else [] for s in r.segments]
    passage_counts = Counter(s.id for s in r.segments if s.problem and s.id)
    typed = r.intent != "problem" and bool(r.answers) and r.chars <= QUESTION_MAX_CHARS
    nomatch = not r.matched and not typed
    others: list[Any] = [] if nomatch else [x for x in r.results if x.id not in shown_ids]
    if not nomatch:
        listed = shown_ids | {x.id for x in others}
        others += [catalog.summaries[i] for i in passage_counts
                   if i not in listed and i in catalog.summaries]
    on_page = shown_ids | {x.id for x in others}

    def seg_href(pid: str) -> str:
        return f"#r-{pid}" if pid in on_page else f"/p/{pid}"

    ctx.update(r=r, terms=terms, seg_terms=seg_terms, shown=shown, others=others,
               nomatch=nomatch, passage_counts=dict(passage_counts), seg_href=seg_href,
               segments_open_max=SEGMENTS_OPEN_MAX, question_max_chars=QUESTION_MAX_CHARS,
               permalink=permalink,
               # the engine's one-line summary; for a long note the pain points below say it
               message=(page_message(r.message, r.query)
                        if r.matched and r.chars <= QUESTION_MAX_CHARS else None),
               took=took_label(r.took_ms, r.cached, is_english(r.query)),
               problems=sum(1 for s in r.segments if s.problem),
               framing=sum(1 for s in r.segments if not s.problem))
    if shown:
        brief = build_brief(r, catalog.engine.corpus)
        ctx["markdown"] = brief_markdown(brief, brief_links(base_url(request)))
    return ctx


async def _search(request: Request, engine: Engine, catalog: Catalog,
                  q: str | None, k: int) -> Response:
    ctx = _search_ctx(catalog, q, k)
    if q is None:
        return page(request, "search.html", ctx)
    try:
        r = await run_search(engine, q, k)
    except ApiError as e:
        return _error_page(request, ctx, e, q)
    return page(request, "search.html", _result_ctx(request, catalog, r, k, None))


def _error_page(request: Request, ctx: dict[str, Any], e: ApiError, q: str | None) -> Response:
    """The search page with the error; a text that failed is not put back into the form
    (resubmitting it would fail again), only its length is reported, unless it failed only
    for being too long for a link (the box, which posts, takes it)."""
    ctx["error"] = page_message(e.error, q)
    chars = len(q.strip()) if isinstance(q, str) else 0
    ctx["failed_chars"] = chars
    # too long for a link but not for the box: put it back, one click posts it
    ctx["q"] = q if e.status == 413 and chars <= MAX_NOTE_CHARS else None
    ctx["json_url"] = None
    return page(request, "search.html", ctx, status=e.status)


@router.get("/search", response_class=HTMLResponse)
async def search(
    request: Request,
    engine: EngineDep,
    catalog: CatalogDep,
    q: Annotated[str | None, Query()] = None,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 5,
) -> Response:
    return await _search(request, engine, catalog, q, k)


@router.post("/search", response_class=HTMLResponse)
async def search_form(request: Request, engine: EngineDep, catalog: CatalogDep) -> Response:
    """The long-note form posts here (up to ``MAX_NOTE_CHARS``): the answer is stored and
    the browser redirected to its permalink, so a refresh re-reads it instead of posting
    again and the link can be shared."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise ApiError(415, "请通过页面上的表单提交（application/x-www-form-urlencoded）")
    form = await request.form()
    q = form.get("q")
    raw_k = form.get("k") or "5"
    try:
        k = int(str(raw_k))
    except ValueError:
        raise ApiError(422, f"k must be a whole number from 1 to {MAX_K}") from None
    if not 1 <= k <= MAX_K:
        raise ApiError(422, f"k must be a whole number from 1 to {MAX_K}")
    text = q if isinstance(q, str) else ""
    try:
        r = await run_search(engine, text, k, MAX_NOTE_CHARS)
    except ApiError as e:
        return _error_page(request, _search_ctx(catalog, text, k), e, text)
    store: PermalinkStore = request.app.state.permalinks
    key = await anyio.to_thread.run_sync(store.save, r.query, k, r)
    return RedirectResponse(f"/r/{key}", status_code=303)


@router.get("/r/{key}", response_class=HTMLResponse)
async def stored_result(request: Request, key: str, catalog: CatalogDep) -> Response:
    """A stored result, by its permalink."""
    store: PermalinkStore = request.app.state.permalinks
    item = store.load(key)
    return page(request, "search.html", _result_ctx(request, catalog, item.response, item.k, key))


@router.get("/risks", response_class=HTMLResponse)
async def risks(request: Request, catalog: CatalogDep) -> Response:
    return page(request, "risks.html", {"risks": catalog.risks, "json_url": "/api/risks",
                                        "nav": "risks"})


@router.get("/technologies", response_class=HTMLResponse)
async def technologies(request: Request, catalog: CatalogDep) -> Response:
    t = catalog.technologies
    titles = {s.id: s.title for s in catalog.summaries.values()}
    names = {x.id: x.name for x in t.technologies}
    svg = heatmap_svg(
        rows=[(pid, titles[pid]) for pid in t.matrix.rows],
        columns=[(cid, names[cid]) for cid in t.matrix.columns],
        cells=t.matrix.cells,
    )
    return page(request, "technologies.html", {
        "t": t, "svg": svg, "titles": titles, "json_url": "/api/technologies",
        "nav": "technologies",
    })


@router.get("/docs", response_class=HTMLResponse)
async def docs(request: Request) -> Response:
    """The API reference, rendered from OpenAPI on the server: no CDN, no script."""
    spec = request.app.openapi()
    ops = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [
                {"name": p["name"], "in": p["in"], "required": p.get("required", False),
                 "description": p.get("description") or p.get("schema", {}).get("description", ""),
                 "type": _type_of(p.get("schema", {}))}
                for p in op.get("parameters", [])
            ]
            body = None
            content = op.get("requestBody", {}).get("content", {})
            if content:
                schema = next(iter(content.values())).get("schema", {})
                schema = _resolve(spec, schema)
                body = {
                    "types": list(content),
                    "fields": [
                        {"name": n, "type": _type_of(f), "description": f.get("description", ""),
                         "required": n in schema.get("required", [])}
                        for n, f in schema.get("properties", {}).items()
                    ],
                }
            ops.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""), "params": params, "body": body,
                "responses": [(code, r.get("description", ""))
                              for code, r in op.get("responses", {}).items()],
                "try": method == "get" and "{" not in path,
            })
    return page(request, "docs.html", {"ops": ops, "info": spec.get("info", {}),
                                       "json_url": "/openapi.json", "nav": "docs"})


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        return spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {})
    return schema


def _type_of(schema: dict[str, Any]) -> str:
    if "type" in schema:
        return str(schema["type"])
    if "anyOf" in schema:
        return " | ".join(_type_of(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    return ""


@router.get("/favicon.ico")
async def favicon(request: Request) -> Response:
    """Browsers ask for it unprompted; answering avoids a 404 in every server log."""
    path = Path(request.app.state.static_dir) / "favicon.svg"
    return FileResponse(path, media_type="image/svg+xml")
