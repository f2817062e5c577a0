"""The JSON API under ``/api``, one router per resource: the twin of every page, plus chat;
and the machine routes chat platforms call: ``/v1`` (OpenAI-compatible), ``/retrieval`` (Dify).

Routes are thin: they validate input, call the engine or the ``Catalog``, and return
pydantic models (which is what OpenAPI documents). Errors are raised as ``ApiError`` or a
core error and rendered as ``{"error": …, "detail": …}`` by ``handlers.py``.
"""

from . import (
    brief,
    chat,
    dify,
    feedback,
    health,
    openai_compat,
    painpoints,
    revisions,
    risks,
    search,
    technologies,
)

ROUTERS = [search.router, chat.router, painpoints.router, risks.router, technologies.router,
           health.router, openai_compat.router, dify.router,
           revisions.router, feedback.router, brief.router]
