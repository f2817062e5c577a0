"""The shipped corpus, as package data (the files are YAML and text; nothing to import)."""
