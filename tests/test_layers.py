"""The layers stay layers: import-linter checks the contracts in pyproject.toml.

Storage (tongdian.index) knows nothing above it; the core uses storage; the web layer
uses the core; the CLI sits on top. An import that runs back up fails this test.
"""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

from tests.conftest import PROJECT_ROOT


def test_import_contracts_are_kept() -> None:
    assert lint_imports(config_filename=str(PROJECT_ROOT / "pyproject.toml"), no_cache=True) == 0


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    """The check can fail: a contract the code does not keep (the core never touching
    storage) is reported as broken."""
    cfg = tmp_path / "contracts.ini"
    cfg.write_text(
        "[importlinter]\nroot_package = tongdian\n\n"
        "[importlinter:contract:core-without-storage]\nname = core without storage\n"
        "type = forbidden\nsource_modules = tongdian.core\nforbidden_modules = tongdian.index\n",
        encoding="utf-8",
    )
    assert lint_imports(config_filename=str(cfg), no_cache=True) == 1
