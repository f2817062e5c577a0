"""Stage 3 of a search: is the text in scope, and which pain points does it name?

Combines the whole text's ranking with its passages' into one confidence per pain point,
decides "no good match", and picks the pain points to answer, as a ``Verdict``.
"""

from __future__ import annotations

from tongdian.core.ranking.parts import Ranked, ScoredPart
from tongdian.core.ranking.verdict import Part, Pick, Verdict
from tongdian.core.reading.reader import Reading

#: A clause's own best match joins the whole text's ranking at this fraction of its confidence.
#: 0 (passages mute): dev P@1 -0.018; 1.0: real tune -0.009; 0.8: real tune +0.026 (3 texts;
#: not adopted here: within the interval, and this refactor keeps scores) (``--only SEGMENT_WEIGHT``).
SEGMENT_WEIGHT = 0.9
#: ...scaled down when the clause is less than this share of the text: in a two-problem
#: briefing each half speaks fully, an aside in a five-clause news paragraph does not. Off and
#: 0.33: real tune P@1 -0.017; 0.75: real +0.017, dev -0.018 (``--only SEGMENT_FULL_SHARE``).
SEGMENT_FULL_SHARE = 0.5
#: A problem passage whose own best pain point has at least this share of its probability
#: maps to it confidently: that pain point is answered in full, however far down it ranks.
#: Off: a six-problem briefing answers three at k=3 (tests/test_engine.py); 0.4 and 0.6
#: change no text (a majority of the passage's probability, not a tuned value).
MAPPED_MIN_SHARE = 0.5
#: A passage counts toward a pain point's text in a long note at this confidence or more.
#: 0: a pain point the independent test note never discusses is mapped; 0.4/0.6: no change.
MASS_MIN_CONFIDENCE = 0.5
#: In a long note, a pain point is answered in full once this many characters of passages
#: name it at least ``MASS_MIN_CONFIDENCE`` confidently (confidence-weighted); below that its
#: confidence is scaled down in proportion: a stray clause is ~15 characters, a problem the
#: note discusses a sentence or two. 80 loses three of four problems of a short note
#: (tests/test_notes.py); off and 30 map +4/+9 and +2/+3 pain points the test notes never
#: discuss (``python -m bench.knobs --only LONG_NOTE_FULL_CHARS``).
LONG_NOTE_FULL_CHARS = 50



def decide(reading: Reading, ranked: Ranked, k: int, threshold: float) -> Verdict:
    """One confidence per pain point from the whole text and its passages; "no good match"
    when neither is in scope."""
    whole, passages = ranked.whole, ranked.passages
    # a keyword query: the scope model cannot judge two words, so its pain points are
    # ranked and shown by their share alone (see reader.KEYWORD_MAX_CHARS)
    keyword = not passages and whole.p_in < threshold and reading.keyword
    conf: dict[int, float] = {}
    score: dict[int, float] = {}
    via: dict[int, ScoredPart] = {}  # entries a passage evidences better than the whole
    for j, e in enumerate(whole.cand.entries):
        conf[int(e)] = float(whole.dist[j] * (1.0 if keyword else whole.p_in))
        score[int(e)] = float(whole.scores[j])
    problems = [p for p in passages if p.problem]
    # a comma piece adds its pain point but does not overtake what the whole text names best
    whole_top = whole.top[0]
    piece_cap = conf.get(whole_top, 0.0) * (1 - 1e-3)
    total = max(sum(len(p.text) for p in problems), 1)
    # in a long note, how much confident text names each pain point (see LONG_NOTE_FULL_CHARS)
    mass: dict[int, float] = {}
    for p in problems:
        e, c, _ = p.scored.top
        if c >= MASS_MIN_CONFIDENCE:
            mass[e] = mass.get(e, 0.0) + c * len(p.text)
    mapped: set[int] = set()
    parts = []
    for p in passages:
        e, c, top_share = p.scored.top
        parts.append(Part(p.text, e, c, p.problem, p.reason))
        if not p.problem:
            continue
        # a passage speaks for the whole text in proportion to how much of it it is: one
        # aside among five clauses must not outrank what the text as a whole is about;
        # in a long note, a pain point speaks in proportion to the text that names it
        if reading.long_note:
            share = min(1.0, mass.get(e, 0.0) / LONG_NOTE_FULL_CHARS)
            if share >= 1.0:
                mapped.add(e)
        else:
            share = min(1.0, len(p.text) / total / SEGMENT_FULL_SHARE)
            if top_share >= MAPPED_MIN_SHARE:
                mapped.add(e)
        weight = SEGMENT_WEIGHT * share * c
        if p.piece and e != whole_top:
            weight = min(weight, piece_cap)
        if weight > conf.get(e, 0.0):
            conf[e] = weight
            via[e] = p
    p_in = max([whole.p_in] + [p.scored.p_in for p in problems])
    matched = p_in >= threshold or keyword
    ranked_entries = sorted(conf, key=lambda e: (-conf[e], -score.get(e, -1e9)))
    # every pain point a passage maps to confidently is answered, however many there are
    order = ranked_entries[:k] + [e for e in ranked_entries[k:] if e in mapped and matched]
    picks = []
    for e in order:
        sc = via[e].scored if e in via else whole
        pos = (sc.cand.entries == e).nonzero()[0]
        picks.append(Pick(
            entry=e, confidence=conf[e],
            view=int(sc.cand.best_view[pos[0]]) if len(pos) else -1,
            source=via[e].text if e in via else ranked.whole_text, from_passage=e in via,
            mapped=e in mapped and matched,
        ))
    return Verdict(matched, keyword, p_in, threshold, picks, parts, ranked.whole_text,
                   whole.query.techs)
