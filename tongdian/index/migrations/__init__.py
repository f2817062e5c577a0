"""Alembic migrations of the revision store's schema (``revstore.py`` runs them on open)."""
