"""``/api/risks``: the seven risks, how fintech changes them, the pain points carrying them."""

from __future__ import annotations

from fastapi import APIRouter

from tongdian.core.answers.models import RiskList

from ..deps import CatalogDep

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/risks", response_model=RiskList,
            summary="The seven risks and the pain points that carry them (twin of /risks)")
async def risks(catalog: CatalogDep) -> RiskList:
    return catalog.risks
