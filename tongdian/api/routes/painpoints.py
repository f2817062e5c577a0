"""``/api/painpoints``: every pain point with its remedies, and one in full."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tongdian.core.answers.models import PainPointDetail, PainPointList

from ..bodies import NOT_FOUND
from ..deps import CatalogDep
from ..schemas import ErrorBody

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/painpoints", response_model=PainPointList,
            responses={400: {"model": ErrorBody, "description": "unknown filter value"}},
            summary="All pain points with their remedies (twin of /)")
async def painpoints(
    catalog: CatalogDep,
    tech: Annotated[str | None, Query(description="keep those with this technology id")] = None,
    risk: Annotated[str | None, Query(description="keep those carrying this risk id")] = None,
) -> PainPointList:
    """Facet counts say how many pain points each technology / risk would leave."""
    return catalog.listing(tech, risk)


@router.get("/painpoints/{pid}", response_model=PainPointDetail, responses={**NOT_FOUND},
            summary="One pain point in full (twin of /p/{pid})")
async def painpoint(pid: str, catalog: CatalogDep) -> PainPointDetail:
    """`pid` is P01, P02 … (case-insensitive; a bank's own continue at P21); anything else is a 404."""
    return catalog.detail(pid)
