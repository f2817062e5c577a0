"""The request limits, said once: OpenAPI's description and its 413 answers, the error
messages and the README all quote these sentences, so no two places can disagree.

The numbers live in ``core.config``; this module only words them.
"""

from __future__ import annotations

from tongdian.core.config import MAX_BODY_BYTES, MAX_K, MAX_NOTE_CHARS, MAX_QUERY_CHARS

#: One sentence for the API description.
LIMITS = (f"A query in a URL (GET) is limited to {MAX_QUERY_CHARS:,} characters; a text in a "
          f"POST body (a whole meeting note) to {MAX_NOTE_CHARS:,} characters, and the body "
          f"itself to {MAX_BODY_BYTES // 1024} KB ({MAX_BODY_BYTES:,} bytes); `k` is 1 to {MAX_K}.")
#: What a 413 means, for every route's OpenAPI responses.
TOO_LONG = (f"text too long: over {MAX_QUERY_CHARS:,} characters in a GET query, over "
            f"{MAX_NOTE_CHARS:,} in a POST body, or a body over {MAX_BODY_BYTES // 1024} KB")
