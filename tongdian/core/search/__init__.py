"""The search: the engine (the pipeline from text to answers), the index build it reads, and the catalog it serves."""
