"""The page templates and static files, as package data."""
