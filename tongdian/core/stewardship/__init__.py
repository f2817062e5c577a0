"""Stewardship of the knowledge base: editing, revisions, the gate, publishing and feedback."""
