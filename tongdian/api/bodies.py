"""Request bodies and responses of the JSON routes: exact 4xx statuses, one serialisation.

Every JSON route parses its body here (so a wrong content type is a 415, broken JSON a 400
and a bad field a 422, each with a sentence saying so) and answers through ``as_json``.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import numpy as np
import pydantic_core
from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from tongdian.core.config import MAX_JSON_DEPTH

from .errors import ApiError
from .limits import TOO_LONG
from .schemas import ErrorBody

M = TypeVar("M", bound=BaseModel)

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "empty query or malformed body"},
    413: {"model": ErrorBody, "description": TOO_LONG},
    415: {"model": ErrorBody, "description": "body is neither JSON nor a form"},
    422: {"model": ErrorBody, "description": "a parameter has the wrong type or range"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such id"},
}


#: A JSON string (escapes included): what the depth scan skips, brackets inside text being text.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_OPEN, _CLOSE = b"[{", b"]}"
_STEP = np.zeros(256, dtype=np.int8)
_STEP[list(_OPEN)] = 1
_STEP[list(_CLOSE)] = -1


def json_depth(raw: bytes) -> int:
    """How deeply ``raw``'s arrays and objects nest, counted without parsing it.

    A scan (strings removed by one regex, then a running sum of brackets in numpy): linear
    in the body, which the middleware already capped, and no recursion anywhere, so a body
    of ten thousand ``[`` costs a millisecond, not a parser's stack.
    """
    brackets = np.frombuffer(_JSON_STRING.sub(b"", raw), dtype=np.uint8)
    if brackets.size == 0:
        return 0
    return int(np.cumsum(_STEP[brackets], dtype=np.int32).max(initial=0))


def check_depth(raw: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """400 for a body nested deeper than ``limit``, before any parser sees it."""
    if json_depth(raw) > limit:
        raise ApiError(400, f"JSON body nested deeper than {limit} levels",
                       {"max_json_depth": limit})


def parse_json(raw: bytes) -> Any:
    """A JSON body as Python data, or a 400: depth checked first, then parsed by jiter (the
    compiled parser pydantic uses: malformed input is a ``ValueError``, never a
    ``RecursionError`` as with ``json.loads``)."""
    if not raw.strip():
        raise ApiError(400, "empty body: send a JSON object")
    check_depth(raw)
    try:
        return pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as e:
        raise ApiError(400, f"malformed JSON body: {str(e)[:120]}") from None


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body the route parses itself (to choose 400/415/422 precisely)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": schema},
        "application/x-www-form-urlencoded": {"schema": schema},
    }}}


async def parse_body(request: Request, model: type[M]) -> M:
    """Parse a JSON or form body into ``model`` with exact, user-facing error statuses.

    FastAPI's own body handling answers a wrong content type or broken JSON with a 422
    that names pydantic internals; chat tools and curl users deserve "415: send JSON" and
    "400: malformed JSON" instead. The body size was already capped by the middleware.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if ctype == "application/json" or ctype.endswith("+json"):
            raw = await request.body()
            if not raw.strip():
                raise ApiError(400, "empty body: send a JSON object such as {\"q\": \"…\"}")
            check_depth(raw)
            return model.model_validate_json(raw)
        if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            return model.model_validate({k: v for k, v in form.items() if isinstance(v, str)})
    except ValidationError as e:
        errors = [{"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
                  for err in e.errors()]
        if any(err["type"] == "json_invalid" for err in errors):
            raise ApiError(400, "malformed JSON body", errors) from None
        raise ApiError(422, invalid_message(model, errors), errors) from None
    raise ApiError(415, f"unsupported content type {ctype[:60]!r}: send application/json",
                   {"accepted": ["application/json", "application/x-www-form-urlencoded"]})


def invalid_message(model: type[BaseModel], errors: list[dict[str, Any]]) -> str:
    """One sentence a person can act on: which fields are unknown (and which exist), or
    which fields are wrong and how."""
    unknown = [".".join(e["loc"]) for e in errors if e["type"] == "extra_forbidden"]
    if unknown:
        fields = ", ".join(model.model_fields)
        return (f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown[:5])}: "
                f"this body takes {fields}")
    where = "; ".join(f"{'.'.join(e['loc']) or 'body'}: {e['msg']}" for e in errors[:3])
    return f"invalid request body: {where}"


def as_json(model: BaseModel) -> Response:
    """The model serialised once, by pydantic-core.

    Returned as a ``Response``, FastAPI sends it as is instead of validating the object
    against ``response_model`` again and encoding it in Python: about a millisecond per
    search answer, most of what HTTP added to a search. ``response_model`` still documents
    the shape in OpenAPI, and the schemathesis test checks that the answers conform.
    """
    return Response(content=model.model_dump_json(), media_type="application/json")
