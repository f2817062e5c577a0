"""Optional features and the pip extra that installs each.

The core install searches, serves the pages and the JSON API, and builds the index. A
feature that needs a heavy or native dependency is an extra (``pip install
'tongdian[pdf]'``); when it is missing, the feature answers with this message naming the
extra (the CLI prints it, HTTP answers 501), never with an ImportError's traceback.

A leaf module (it imports nothing of tongdian) so every layer may ask it.
"""

from __future__ import annotations

import importlib.util
from functools import cache

#: extra -> (the modules it provides, what it is for)
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "pdf": (("weasyprint",), "the PDF meeting brief"),
    "docx": (("docx",), "the Word (DOCX) meeting brief"),
    "postgres": (("psycopg",), "the knowledge base on PostgreSQL (TONGDIAN_DB_URL)"),
    "mcp": (("mcp", "mcp_types"), "the MCP server for chat tools (/mcp, tongdian mcp)"),
    "st": (("sentence_transformers",), "sentence-transformers embedders (st:/path)"),
}


class MissingExtra(RuntimeError):
    """A feature was asked for whose optional dependencies are not installed."""

    def __init__(self, extra: str) -> None:
        self.extra = extra
        what = EXTRAS[extra][1]
        super().__init__(f"{what} needs the optional dependencies of tongdian[{extra}], "
                         f"which are not installed: pip install 'tongdian[{extra}]'")


@cache
def available(extra: str) -> bool:
    """Are the extra's modules importable? (Looked up, not imported: cheap at start.)"""
    try:
        return all(importlib.util.find_spec(m) is not None for m in EXTRAS[extra][0])
    except (ImportError, ValueError):
        return False


def require(extra: str) -> None:
    """Raise ``MissingExtra`` naming ``extra`` unless its modules are installed."""
    if not available(extra):
        raise MissingExtra(extra)
