"""Parse a model's generated answer and the answer range of a SocSci210 stimulus.

The assistant turn of SocSci210 is a bare integer ("Only return an integer from 1 to 5, nothing
else."), but sampled generations drift: "Answer: 3", "$1,250", "4.0", "3 or 4". The rule is
"the first number in the text, if it is an integer".
"""

from __future__ import annotations

import re

# An integer with thousands separators only when the groups are exactly three digits
# ("1,250" -> 1250, "3,4" -> 3). Non-capturing alternatives are tried in order.
_INT = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"
_MINUS = "-\u2212"  # ASCII hyphen-minus and the Unicode minus sign

# A minus counts only where it cannot be a hyphen or a range dash ("1-5", "item-3").
_NUMBER = re.compile(
    rf"(?:(?<![\w.])(?P<sign>[{_MINUS}]))?"
    r"\$?"
    rf"(?:(?<=\$)(?P<sign2>[{_MINUS}]))?"
    # a bare ".5" (not an ellipsis "...5") is a fraction, not the integer 5
    r"(?P<lead>(?<![.\d])\.(?=\d))?"
    rf"(?P<int>{_INT})"
    r"(?:\.(?P<frac>\d+))?"
)


def parse_answer(text: str | None) -> int | None:
    """Return the first number in ``text`` as an ``int``, or ``None``.

    - a leading minus sign is kept ("-2" -> -2, "$-5" and "-$5" -> -5), a hyphen inside a word or
      a range is not ("1-5" -> 1);
    - thousands separators and a dollar sign are accepted ("$1,250" -> 1250);
    - an integral decimal is accepted ("4.0" -> 4); a non-integral one ("4.5", "0.5", ".5") gives
      ``None``, since rounding would invent an answer the model did not give;
    - prefixes and trailing text are ignored by the first-number rule ("Answer: 3" -> 3,
      "3 or 4" -> 3); no digits at all gives ``None``.
    """
    if not isinstance(text, str):
        return None
    m = _NUMBER.search(text)
    if m is None:
        return None
    if m.group("lead"):
        return None
    frac = m.group("frac")
    if frac and frac.strip("0"):
        return None
    value = int(m.group("int").replace(",", ""))
    if m.group("sign") or m.group("sign2"):
        value = -value
    return value


_BOUND = rf"[{_MINUS}]?\$?(?:{_INT})"
_PAREN = r"(?:\s*\([^()]*\))?"  # an optional label: "from 1 (not at all) to 5 (very)"
_SCALE = re.compile(
    rf"\b(?:from|between)\s+(?P<lo>{_BOUND}){_PAREN}\s*(?:to|and|-|\u2013|\u2014)\s*"
    rf"(?P<hi>{_BOUND}){_PAREN}",
    re.IGNORECASE,
)
# Words that mark a sentence as the answer-format sentence rather than part of the vignette
# ("... between 2010 and 2015 ..." must not become a scale).
_FORMAT_WORDS = re.compile(
    r"integer|number|whole|scale|\brat(?:e|ing)\b|return|respond|answer", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"[.!?\n](?=\s|$)")


def _bound(text: str) -> int:
    text = text.replace("$", "").replace(",", "").replace("\u2212", "-")
    return int(text)


def parse_scale(stimulus: str | None) -> tuple[int, int] | None:
    """Return the answer range ``(low, high)`` stated by the stimulus's format sentence.

    Recognises "from X to Y" and "between X and Y" (also "from X - Y"), with optional
    parenthesised labels after each bound, thousands separators and dollar signs. Only a range
    in a sentence that talks about the answer format (integer, number, scale, rate/rating,
    return, respond, answer) counts; of several, the last one wins, since the format sentence
    ends the stimulus.
    Returns ``None`` when there is no such range (e.g. an unbounded dollar amount).
    """
    if not isinstance(stimulus, str):
        return None
    found: tuple[int, int] | None = None
    for m in _SCALE.finditer(stimulus):
        ends = [e.end() for e in _SENTENCE_END.finditer(stimulus, 0, m.start())]
        start = ends[-1] if ends else 0
        nxt = _SENTENCE_END.search(stimulus, m.end())
        stop = nxt.start() if nxt else len(stimulus)
        if not _FORMAT_WORDS.search(stimulus, start, stop):
            continue
        lo, hi = _bound(m.group("lo")), _bound(m.group("hi"))
        found = (min(lo, hi), max(lo, hi))
    return found
