"""A feature whose extra is not installed says which extra to install: HTTP 501 with the
extra's name, the page hides its button, the CLI exits 2 with the same message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tongdian import extras
from tongdian.api.app import create_app
from tongdian.core.config import Settings


@pytest.fixture()
def without(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """docx, pdf and mcp as if not installed (their modules renamed to absent ones)."""
    for name in ("docx", "pdf", "mcp"):
        _mods, what = extras.EXTRAS[name]
        monkeypatch.setitem(extras.EXTRAS, name, (("tongdian_absent_module_xyz",), what))
    extras.available.cache_clear()
    yield
    extras.available.cache_clear()


def test_the_message_names_the_extra() -> None:
    assert extras.available("docx") and extras.available("mcp")  # the test install has them
    with pytest.raises(extras.MissingExtra, match=r"pip install 'tongdian\[postgres\]'"):
        raise extras.MissingExtra("postgres")


def test_missing_extras_answer_501_and_the_page_hides_their_buttons(
        without: None, tiny_engine, tiny_corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(tiny_engine, Settings(corpus=tiny_corpus, data=tmp_path / "d"))
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as c:  # /mcp: loopback only
        for fmt in ("docx", "pdf"):
            r = c.get("/api/brief", params={"q": "存款成本太高", "format": fmt})
            assert r.status_code == 501 and f"tongdian[{fmt}]" in r.json()["error"], r.text
            assert r.json()["detail"] == {"extra": fmt}
        assert c.get("/api/brief", params={"q": "存款成本太高", "format": "md"}).status_code == 200
        r = c.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "initialize"})
        assert r.status_code == 501 and "tongdian[mcp]" in r.text
        page = c.get("/search", params={"q": "存款成本太高"}).text
        assert 'value="md"' in page and 'value="docx"' not in page and 'value="pdf"' not in page


def test_the_cli_names_the_missing_extra(without: None) -> None:
    from tongdian.cli import app

    r = CliRunner().invoke(app, ["mcp"])
    assert r.exit_code == 2 and "tongdian[mcp]" in r.output and "Traceback" not in r.output
