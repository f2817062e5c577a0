"""Request bodies and responses of the JSON routes: exact 4xx statuses, one serialisation.

Every JSON route parses its body here (so a wrong content type is a 415, broken JSON a 400
and a bad field a 422, each with a sentence saying so) and answers through ``as_json``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

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
            return model.model_validate_json(raw)
        if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            return model.model_validate({k: v for k, v in form.items() if isinstance(v, str)})
    except ValidationError as e:
        errors = [{"loc": [str(p) for p in err["loc"]], "msg": err["msg"], "type": err["type"]}
                  for err in e.errors()]
        if any(err["type"] == "json_invalid" for err in errors):
            raise ApiError(400, "malformed JSON body", errors) from None
        where = ", ".join(".".join(err["loc"]) or "body" for err in errors[:3])
        raise ApiError(422, f"invalid request body: {where}", errors) from None
    raise ApiError(415, f"unsupported content type {ctype[:60]!r}: send application/json",
                   {"accepted": ["application/json", "application/x-www-form-urlencoded"]})


def as_json(model: BaseModel) -> Response:
    """The model serialised once, by pydantic-core.

    Returned as a ``Response``, FastAPI sends it as is instead of validating the object
    against ``response_model`` again and encoding it in Python: about a millisecond per
    search answer, most of what HTTP added to a search. ``response_model`` still documents
    the shape in OpenAPI, and the schemathesis test checks that the answers conform.
    """
    return Response(content=model.model_dump_json(), media_type="application/json")
