"""Answers: what a search and the pages return (the models), typed answers, the brief and its formats, permalinks."""
