"""Links: the web layer turns the core's ids into the paths of its own pages.

The core answers with ids and leaves every ``url`` empty: only this layer knows its routes
(``/p/P01``, ``/risks#…``, ``/?tech=…``). ``with_links`` fills the urls of an answer in
place just before it is served — as a page, as JSON, or through the MCP, OpenAI and Dify
adapters — so the JSON keeps the ``url`` fields it always had. ``LinkedCatalog`` does it
once for the catalog's precomputed pages.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import ip_address
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

from pydantic import BaseModel

from tongdian.core.answers.models import (
    PainPointSummary,
    PainRef,
    PainUse,
    RiskCarrier,
    SearchResponse,
    TypedAnswer,
)
from tongdian.core.search.catalog import Catalog

M = TypeVar("M")


def painpoint_path(pid: str) -> str:
    return f"/p/{pid}"


def answer_path(a: TypedAnswer) -> str:
    """The page that shows one typed answer's item."""
    if a.kind == "risk":
        return f"/risks#{a.id}"
    if a.kind == "technology":
        return f"/?tech={a.id}"
    if a.kind == "cooperation":  # no page of its own: the search for its name
        return f"/search?{urlencode({'q': a.title})}"
    if a.kind == "case":  # shown on the page of the first pain point it illustrates
        return f"{painpoint_path(a.painpoints[0].id)}#case"
    return painpoint_path(a.id)


def with_links(obj: M) -> M:
    """Fill every ``url`` in ``obj`` (a model, or lists and dicts of them); returns ``obj``.
    Idempotent, so a cached answer served twice is filled twice with the same paths."""
    if isinstance(obj, SearchResponse):  # on every search: only its typed answers carry links
        for a in obj.answers:
            a.url = answer_path(a)
            for p in a.painpoints:
                p.url = painpoint_path(p.id)
    elif isinstance(obj, BaseModel):
        for name in type(obj).model_fields:
            with_links(getattr(obj, name))
        if isinstance(obj, TypedAnswer):
            obj.url = answer_path(obj)
        elif isinstance(obj, PainRef | PainUse | RiskCarrier | PainPointSummary):
            obj.url = painpoint_path(obj.id)
    elif isinstance(obj, list | tuple):
        for x in obj:
            with_links(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            with_links(x)
    return obj


class LinkedCatalog(Catalog):
    """The catalog as the web serves it: every page's links filled in."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        with_links(self.summaries)  # the details are built from these
        with_links(self.risks)

    def neighbours(self, pid: str):  # type: ignore[no-untyped-def]
        return with_links(super().neighbours(pid))


def shareable_base(base_url: str) -> str:
    """``base_url`` when a reader elsewhere can open it; "" for loopback and unspecified
    hosts (a brief with ``http://127.0.0.1:8766/p/P14`` links to the author's own laptop)."""
    host = (urlsplit(base_url).hostname or "").strip("[]").lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return ""
    try:
        ip = ip_address(host)
    except ValueError:
        return base_url.rstrip("/")
    return "" if ip.is_loopback or ip.is_unspecified or ip.is_link_local else base_url.rstrip("/")


def brief_links(base_url: str) -> Callable[[str], str] | None:
    """A brief's link to a pain point's page, or None where no reader elsewhere could open it."""
    base = shareable_base(base_url) if base_url else ""
    return (lambda pid: f"{base}{painpoint_path(pid)}") if base else None
