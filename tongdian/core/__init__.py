"""The core: corpus → passages → build → search → answers. Knows nothing of HTTP or the shell;
uses the storage primitives in ``tongdian.index`` and is used by ``tongdian.api`` and the CLI."""
