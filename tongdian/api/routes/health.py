"""``/api/health``: what a load balancer asks — index loaded, embedder, corpus version."""

from __future__ import annotations

from fastapi import APIRouter

from tongdian.core.answers.models import Health

from ..deps import CatalogDep

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/health", response_model=Health, summary="Index loaded, embedder, corpus version")
async def health(catalog: CatalogDep) -> Health:
    return catalog.health()
