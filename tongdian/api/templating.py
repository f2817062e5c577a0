"""The Jinja2 environment the pages render with: autoescape on for every template."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tongdian.core.config import MAX_K, MAX_NOTE_CHARS, MAX_QUERY_CHARS
from tongdian.extras import available

from . import render
from .handlers import ZH_STATUS


def make_templates(directory: Path) -> Jinja2Templates:
    """Jinja2 with autoescape forced on for every template (not only ``*.html``)."""
    env = Environment(
        loader=FileSystemLoader(str(directory)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        highlight=render.highlight,
        confidence_bar=render.confidence_bar,
        confidence_level=render.confidence_level,
        percent=render.percent,
        kind_label=render.kind_label,
        evidence_label=render.evidence_label,
        confidence_word=render.confidence_word,
        catalog_label=render.catalog_label,
        doc_html=render.doc_html,
        occurring=render.occurring,
        short_url=render.short_url,
        max_note_chars=MAX_NOTE_CHARS,
        strong_confidence=render.STRONG_CONFIDENCE,
        max_query_chars=MAX_QUERY_CHARS,
        max_k=MAX_K,
        zh_status=ZH_STATUS,
        has_extra=available,
    )
    env.filters["zh"] = render.zh_punct
    return Jinja2Templates(env=env)
