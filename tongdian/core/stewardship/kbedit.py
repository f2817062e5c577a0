"""Edits to a corpus snapshot: the YAML files as ``{relative path: bytes}``.

Pure functions, no storage: each takes a snapshot and returns a new one, so the caller
(``kb.py``) can validate the whole result with the corpus loader before it becomes a
revision. The JSON shape the API reads (``PainPointDetail``) is translated back to the
corpus schema here, so ``PUT`` accepts exactly what ``GET`` returned.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tongdian.core.knowledge.corpus import Corpus, CorpusError, load_corpus
from tongdian.core.knowledge.schema import Case, PainPoint, Risk, Technology

Files = dict[str, bytes]

#: A format: fields of ``GET /api/painpoints/{id}`` computed from others (accepted, ignored).
DERIVED_FIELDS = frozenset({"technologies", "url", "case_detail", "neighbours"})
#: A format: corpus files of a snapshot, everything the loader reads (no Python, no caches).
CORPUS_SUFFIXES = (".yaml", ".txt")

#: A format: the corpus list files edited by id (file, top-level key, schema).
LISTS: dict[str, tuple[str, str, type[BaseModel]]] = {
    "risks": ("risks.yaml", "risks", Risk),
    "technologies": ("technologies.yaml", "technologies", Technology),
    "cases": ("cases.yaml", "cases", Case),
}
#: A format: a pain point's id ("P05"), its number captured.
PAIN_ID = re.compile(r"^P(\d{2,3})$")


class EditError(ValueError):
    """An edit is invalid. ``problems`` are ``(field, message)`` pairs for a 422."""

    def __init__(self, problems: list[tuple[str, str]], status: int = 422) -> None:
        self.problems = problems
        self.status = status
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))


class EntryMissing(LookupError):
    """No such entry in this snapshot (a 404)."""


def dump_yaml(data: Any) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000).encode("utf-8")


def load_yaml(body: bytes) -> Any:
    return yaml.safe_load(body.decode("utf-8"))


def read_dir(root: Path) -> Files:
    """A corpus directory as a snapshot (the files the loader reads)."""
    root = Path(root)
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in CORPUS_SUFFIXES and "__pycache__" not in p.parts
    }


def write_dir(files: Files, dst: Path) -> Path:
    """Write a snapshot to ``dst`` atomically: built beside it, then renamed into place
    (an existing ``dst`` is left alone: snapshots are immutable, so it holds the same)."""
    dst = Path(dst)
    if dst.is_dir():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}-", dir=dst.parent))
    try:
        for rel, body in files.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(body)
        tmp.rename(dst)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not dst.is_dir():
            raise
    return dst


def validate(files: Files) -> Corpus:
    """Load the snapshot with the corpus loader (all of its checks); ``EditError`` if not."""
    with tempfile.TemporaryDirectory(prefix="tongdian-validate-") as tmp:
        root = Path(tmp) / "corpus"
        write_dir(files, root)
        try:
            return load_corpus(root)
        except CorpusError as e:
            rel = e.path.relative_to(root) if e.path.is_relative_to(root) else e.path.name
            raise EditError([(str(rel), p) for p in e.problems]) from None


def _pydantic_problems(e: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in e.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        out.append((loc or "body", err["msg"]))
    return out


def check_model(model: type[BaseModel], data: Any) -> None:
    if not isinstance(data, dict):
        raise EditError([("body", "expected a JSON object")])
    try:
        model.model_validate(data)
    except ValidationError as e:
        raise EditError(_pydantic_problems(e)) from None


# -- pain points --------------------------------------------------------------------------------
def painpoint_path(pid: str) -> str:
    return f"painpoints/{pid}.yaml"


def painpoint_ids(files: Files) -> list[str]:
    ids = [p.removeprefix("painpoints/").removesuffix(".yaml") for p in files
           if p.startswith("painpoints/") and p.endswith(".yaml")]
    return sorted(ids, key=lambda i: (len(i), i))


def painpoint_data(files: Files, pid: str) -> dict[str, Any]:
    body = files.get(painpoint_path(pid))
    if body is None:
        raise EntryMissing(f"no pain point {pid} in this revision")
    return load_yaml(body)  # type: ignore[no-any-return]


def default_document(files: Files) -> str:
    docs = load_yaml(files["source.yaml"]).get("documents") or [{}]
    return str(docs[0].get("id", "bank"))


def painpoint_from_api(body: dict[str, Any], current: dict[str, Any] | None,
                       document: str) -> dict[str, Any]:
    """The corpus entry for a body in ``GET /api/painpoints/{id}``'s shape (or the corpus's).

    Fields the body leaves out keep their current value (``examples`` and the other
    retrieval-only fields are not in the GET shape). Unknown fields are kept, so the
    schema's ``extra="forbid"`` names them instead of dropping a misspelt field silently.
    """
    cur = dict(current or {})
    out: dict[str, Any] = {}
    consumed = set(DERIVED_FIELDS)
    for key in ("id", "number", "title", "title_en", "summary_en", "pain", "keywords",
                "aliases", "examples", "written_examples", "case"):
        if key in body:
            out[key] = body[key]
        elif key in cur:
            out[key] = cur[key]
        consumed.add(key)
    if "approaches" in body:
        approaches = body["approaches"]
        if isinstance(approaches, list):
            out["approaches"] = [_approach(a) for a in approaches]
        else:
            out["approaches"] = approaches
    elif "approaches" in cur:
        out["approaches"] = cur["approaches"]
    consumed.add("approaches")
    reasons = {r.get("id"): r.get("reason") for r in cur.get("risks", []) if isinstance(r, dict)}
    risks = _risks_edit(body, cur)
    if risks is None:
        if "risks" in cur:
            out["risks"] = cur["risks"]
    elif isinstance(risks, list):
        out["risks"] = [_risk(r, reasons) for r in risks]
    else:
        out["risks"] = risks
    consumed |= {"risks", "risks_detail"}
    src = body.get("source", cur.get("source"))
    if isinstance(src, str):  # GET gives the section; the document is the entry's own
        doc = cur.get("source", {}).get("document", document) if cur else document
        src = {"document": doc, "section": src}
    if src is not None:
        out["source"] = src
    consumed.add("source")
    for key, value in body.items():  # unknown keys: let the schema name them
        if key not in consumed:
            out[key] = value
    return out


def _risk_ids(value: Any) -> list[Any] | None:
    """The ids of a ``risks`` or ``risks_detail`` value (None if it is not a list)."""
    if not isinstance(value, list):
        return None
    return [r.get("id") if isinstance(r, dict) else r for r in value]


def _risks_edit(body: dict[str, Any], cur: dict[str, Any]) -> Any:
    """Which of the GET shape's two risk lists the body edits.

    ``risks`` (id and names) and ``risks_detail`` (the same ids with reasons) both come back
    from GET, so a body may carry both. Either may be edited: the one whose ids differ from
    the stored entry's is the edit (a changed ``risks`` used to be dropped silently because
    ``risks_detail`` took precedence); with the same ids in both, ``risks_detail`` wins (it
    carries the reasons). Both changed, to different lists, is a 422: say which you mean.
    """
    if "risks_detail" not in body:
        return body.get("risks")
    if "risks" not in body:
        return body["risks_detail"]
    plain, detail = _risk_ids(body["risks"]), _risk_ids(body["risks_detail"])
    if plain == detail or plain is None:
        return body["risks_detail"]
    stored = _risk_ids(cur.get("risks", []))
    if detail == stored:
        return body["risks"]  # only risks was edited: reasons come from the stored entry
    if plain == stored:
        return body["risks_detail"]
    raise EditError([("risks", "risks and risks_detail name different risks: edit one of "
                               "them (risks_detail carries the reasons) or send only one")])


def _approach(a: Any) -> Any:
    if not isinstance(a, dict):
        return a
    out = {k: v for k, v in a.items() if k not in ("text_en", "tech")}
    if "text_en" in a and "note_en" not in a:
        out["note_en"] = a["text_en"]
    if "tech" in a:
        tech = a["tech"]
        out["tech"] = ([t.get("id") if isinstance(t, dict) else t for t in tech]
                       if isinstance(tech, list) else tech)
    return {"text": out.pop("text", None), "tech": out.pop("tech", None),
            "note_en": out.pop("note_en", None), **out}


def _risk(r: Any, reasons: dict[Any, Any]) -> Any:
    if isinstance(r, str):
        r = {"id": r}
    if not isinstance(r, dict):
        return r
    out: dict[str, Any] = {"id": r.get("id")}
    reason = r.get("reason", reasons.get(r.get("id")))
    if reason is not None:
        out["reason"] = reason
    for k, v in r.items():  # the GET shape's names and controls are the risk's, not the link's
        if k not in ("id", "reason", "name", "name_en", "fintech_change", "controls"):
            out[k] = v
    return {k: v for k, v in out.items() if v is not None}


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    """Keys in the schema's order, so an edited file reads like the hand-written ones."""
    order = list(PainPoint.model_fields)
    return {k: data[k] for k in sorted(data, key=lambda k: order.index(k) if k in order else 99)}


def put_painpoint(files: Files, pid: str, body: dict[str, Any], create: bool = False) -> Files:
    if not isinstance(body, dict):
        raise EditError([("body", "expected a JSON object")])
    current = None if create else painpoint_data(files, pid)
    data = painpoint_from_api(body, current, default_document(files))
    if data.get("id", pid) != pid:
        raise EditError([("id", f"the body says {data.get('id')!r} but the URL says {pid}")])
    data["id"] = pid
    data.setdefault("number", int(pid[1:]))
    check_model(PainPoint, data)
    if current is not None and _meaning(data) == _meaning(current):
        return dict(files)  # the GET shape sent back as is: nothing to store (a 409 says so)
    out = dict(files)
    out[painpoint_path(pid)] = dump_yaml(_ordered(data))
    return out


def _meaning(data: dict[str, Any]) -> dict[str, Any]:
    """An entry as the corpus reads it: key order and absent-vs-null make no difference."""
    return {k: v for k, v in data.items() if v is not None}


def next_painpoint_id(files: Files, ever: set[str]) -> str:
    """One past the highest id this knowledge base has ever held (a retired id is never
    given to a different pain point: links and feedback may still name it)."""
    nums = [int(m.group(1)) for p in (*files, *ever)
            if (m := PAIN_ID.match(p.removeprefix("painpoints/").removesuffix(".yaml")))
            and p.startswith("painpoints/")]
    n = max(nums, default=0) + 1
    return f"P{n:02d}"


def retire_painpoint(files: Files, pid: str) -> Files:
    if painpoint_path(pid) not in files:
        raise EntryMissing(f"no pain point {pid} in this revision")
    out = dict(files)
    del out[painpoint_path(pid)]
    if len(painpoint_ids(out)) == 0:
        raise EditError([("id", "the last pain point cannot be retired")], status=409)
    return out


def add_statement(files: Files, target: str, text: str) -> Files:
    """Add ``text`` as an example of pain point ``target``, or, for ``target == "none"``,
    as a bank-related statement that is not a pain point (calibration)."""
    text = text.strip()
    out = dict(files)
    if target == "none":
        path = "calibration/out_of_scope.yaml"
        data = load_yaml(files[path])
        if text in data.get("bank_related", []) or text in data.get("out_of_scope", []):
            return out
        data.setdefault("bank_related", []).append(text)
        out[path] = dump_yaml(data)
        return out
    data = painpoint_data(files, target)
    if text in data.get("examples", []):
        return out
    data.setdefault("examples", []).append(text)
    check_model(PainPoint, data)
    out[painpoint_path(target)] = dump_yaml(data)
    return out


# -- risks, technologies, cases -----------------------------------------------------------------
def list_entries(files: Files, kind: str) -> list[dict[str, Any]]:
    path, key, _ = LISTS[kind]
    return list(load_yaml(files[path]).get(key) or [])


def put_list_entry(files: Files, kind: str, eid: str, body: dict[str, Any],
                   create: bool = False) -> Files:
    """Replace (or add) one entry of risks.yaml / technologies.yaml / cases.yaml."""
    path, key, model = LISTS[kind]
    if not isinstance(body, dict):
        raise EditError([("body", "expected a JSON object")])
    doc = load_yaml(files[path])
    items = list(doc.get(key) or [])
    pos = next((i for i, it in enumerate(items) if it.get("id") == eid), None)
    # what GET returns besides the schema (the pain points carrying a risk or using a
    # technology) is derived, and what it leaves out (a risk's source) keeps its value
    data = {k: v for k, v in body.items() if k != "painpoints" or kind == "cases"}
    if not create and pos is not None:
        data = {**items[pos], **data}
    if data.setdefault("id", eid) != eid:
        raise EditError([("id", f"the body says {data.get('id')!r} but the URL says {eid}")])
    check_model(model, data)
    if create and pos is not None:
        raise EditError([("id", f"{kind} {eid!r} already exists")], status=409)
    if not create and pos is None:
        raise EntryMissing(f"no {kind} entry {eid!r} in this revision")
    if pos is not None and _meaning(data) == _meaning(items[pos]):
        return dict(files)  # sent back as GET showed it: nothing to store (a 409 says so)
    if pos is None:
        items.append(data)
    else:
        items[pos] = data
    doc[key] = items
    out = dict(files)
    out[path] = dump_yaml(doc)
    return out


def retire_list_entry(files: Files, kind: str, eid: str) -> Files:
    path, key, _ = LISTS[kind]
    doc = load_yaml(files[path])
    items = [it for it in doc.get(key) or [] if it.get("id") != eid]
    if len(items) == len(doc.get(key) or []):
        raise EntryMissing(f"no {kind} entry {eid!r} in this revision")
    doc[key] = items
    out = dict(files)
    out[path] = dump_yaml(doc)
    return out


def entry_path(kind: str, eid: str) -> str:
    return painpoint_path(eid) if kind == "painpoints" else LISTS[kind][0]
