"""The knowledge: the reviewed corpus's schema and loader, its passages, references and the source report."""
