"""``/api/technologies``: the vocabulary and the pain-point × technology matrix."""

from __future__ import annotations

from fastapi import APIRouter

from tongdian.core.answers.models import TechnologyList

from ..deps import CatalogDep

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/technologies", response_model=TechnologyList,
            summary="Technologies and the pain-point × technology matrix (twin of /technologies)")
async def technologies(catalog: CatalogDep) -> TechnologyList:
    return catalog.technologies
