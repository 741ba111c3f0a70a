"""A deterministic, rule-based sentence splitter good enough for biomedical abstracts.

No model and no download: the same text always gives the same spans, which keeps the
multi-sentence contexts (and so the cached instances) reproducible across machines.

A sentence ends after ``.``, ``?`` or ``!`` (optionally followed by closing quotes or
brackets) when whitespace and then an uppercase letter or a digit follow, unless the word
before the period is a common abbreviation (``e.g.``, ``et al.``, ``Fig.``, ...). Decimals
such as ``2.5`` never split because no whitespace follows their period.
"""

from __future__ import annotations

import re

# Lower-cased words that end with a period without ending the sentence. "etc." is left out on
# purpose: in abstracts it ends a sentence more often than not.
ABBREVIATIONS = frozenset(
    {
        "e.g.", "i.e.", "al.", "vs.", "v.", "fig.", "figs.", "approx.", "cf.", "ca.", "eq.",
        "eqs.", "ref.", "refs.", "resp.", "sp.", "spp.", "no.", "nos.", "dr.", "mr.", "mrs.",
        "ms.", "prof.", "st.", "vol.", "p.", "pp.", "min.", "max.", "incl.",
    }
)

# Terminal punctuation, closing quotes/brackets, then the whitespace before the next sentence.
_END = re.compile(r"([.?!]+)[\"'”’)\]]*(\s+)")
_OPENERS = "([{\"'“‘"


def _is_abbreviation(text: str, period: int) -> bool:
    """Whether the word ending at ``text[period]`` (a period) is a known abbreviation."""
    word_start = period
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start : period + 1].lstrip(_OPENERS).lower()
    return word in ABBREVIATIONS


def _starts_sentence(text: str, pos: int) -> bool:
    """An uppercase letter or a digit, possibly after opening quotes or brackets."""
    while pos < len(text) and text[pos] in _OPENERS:
        pos += 1
    return pos < len(text) and (text[pos].isupper() or text[pos].isdigit())


def _split_region(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Sentence spans of ``text[lo:hi]`` (absolute offsets, surrounding whitespace stripped)."""
    spans: list[tuple[int, int]] = []
    start = lo
    for match in _END.finditer(text, lo, hi):
        nxt = match.end()
        if nxt >= hi or not _starts_sentence(text, nxt):
            continue
        punct_end = match.start(2)
        last_punct = match.end(1) - 1
        if text[last_punct] == "." and _is_abbreviation(text, last_punct):
            continue
        spans.append((start, punct_end))
        start = nxt
    spans.append((start, hi))
    return [s for s in (_strip(text, a, b) for a, b in spans) if s[0] < s[1]]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_spans(text: str, title_len: int | None = None) -> list[tuple[int, int]]:
    """``[start, end)`` offsets of the sentences of ``text``, in order.

    ``title_len`` forces a boundary at that offset: a title is its own sentence even when it
    does not end with a period (``Document.text`` is ``title + " " + abstract``, so pass
    ``len(doc.title)``).
    """
    if title_len is None or title_len <= 0 or title_len >= len(text):
        if title_len is not None and not 0 <= title_len <= len(text):
            raise ValueError(f"title_len={title_len} outside the text (length {len(text)})")
        return _split_region(text, 0, len(text))
    return _split_region(text, 0, title_len) + _split_region(text, title_len, len(text))
