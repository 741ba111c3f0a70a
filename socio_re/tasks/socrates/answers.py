"""Parse a model's generated answer and the answer range of a SocSci210 stimulus.

The assistant turn of SocSci210 is a bare integer ("Only return an integer from 1 to 5, nothing
else."), but sampled generations drift: "Answer: 3", "$1,250", "4.0", "3 or 4". The rule is
"the first number in the text, if it is an integer". A model trained with its rationale first
(``task.include_reasoning=true``) ends its turn with an explicit answer line, "Answer: 5", and
only that line is read (:func:`parse_final_answer`).
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



# The line that closes a rationale-first assistant turn: "<rationale>\nAnswer: 5". Training
# targets are built with it (socio_re.tasks.socrates.formatting.answer_text) and
# parse_final_answer reads it back, so the two cannot drift apart.
ANSWER_PREFIX = "Answer:"
_ANSWER_LINE = re.compile(r"^[ \t*]*answer[ \t*]*:(?P<rest>.*)$", re.IGNORECASE | re.MULTILINE)


def parse_final_answer(text: str | None) -> int | None:
    """The answer of a rationale-first generation: :func:`parse_answer` of what follows the
    last "Answer:" line, or ``None`` where there is no such line.

    A rationale cites numbers of its own (the respondent's age, income, household size); a
    generation cut off before its answer line must count as unparseable, not as the last number
    it happened to reach.
    """
    if not isinstance(text, str):
        return None
    lines = _ANSWER_LINE.findall(text)
    return parse_answer(lines[-1]) if lines else None



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

# The instruction that closes a SocSci210 stimulus starts with "Only return". Its enumerated
# forms list the allowed codes instead of a range:
#   "Only return 1, 2, or 3, nothing else."
#   "Only return 1 for Yes or 2 for No."
#   "Only return 1 for 'Raise it.'; 2 for 'Keep it.'; or 3 for 'Cut it.', nothing else."
# The labels are free text (periods, digits, "between 1 and 5 hours"), so an enumeration is
# read from the instruction's own structure, before any range search could misread a label.
_INSTRUCTION = re.compile(r"\bonly\s+return\b", re.IGNORECASE)
_CODE = rf"[{_MINUS}]?\d+"
_LISTED_CODES = re.compile(
    rf"only\s+return\s+(?P<codes>{_CODE}(?:\s*,\s*{_CODE})*\s*,?\s+or\s+{_CODE})\b"
    r"(?!\s*for\b)",
    re.IGNORECASE,
)
_FIRST_LABELLED_CODE = re.compile(rf"only\s+return\s+(?P<code>{_CODE})\s+for\s", re.IGNORECASE)
# A later code follows a separator (";", ",", "or", "and") and precedes "for".
_NEXT_LABELLED_CODE = re.compile(
    rf"(?:[;,]|\bor\b|\band\b)\s*(?:(?:or|and)\s+)?(?P<code>{_CODE})\s+for\s",
    re.IGNORECASE,
)


def _bound(text: str) -> int:
    text = text.replace("$", "").replace(",", "").replace("\u2212", "-")
    return int(text)


def _answer_instruction(stimulus: str) -> str | None:
    """The stimulus from its last "Only return" on, or ``None`` where it has none."""
    starts = [m.start() for m in _INSTRUCTION.finditer(stimulus)]
    return stimulus[starts[-1]:] if starts else None


def enumerated_codes(stimulus: str | None) -> list[int] | None:
    """The codes an enumerated answer instruction allows, in the order it lists them ("Only
    return 1, 2, or 3" and "Only return 1 for Yes or 2 for No" forms), or ``None`` where the
    stimulus has no such instruction (a range, an open-ended amount, anything else)."""
    if not isinstance(stimulus, str):
        return None
    instruction = _answer_instruction(stimulus)
    if instruction is None:
        return None
    listed = _LISTED_CODES.match(instruction)
    if listed:
        return [_bound(c) for c in re.findall(_CODE, listed.group("codes"))]
    first = _FIRST_LABELLED_CODE.match(instruction)
    if not first:
        return None
    codes = [_bound(first.group("code"))]
    codes += [_bound(m.group("code"))
              for m in _NEXT_LABELLED_CODE.finditer(instruction, first.end())]
    return codes if len(set(codes)) >= 2 else None


def _stated_range(stimulus: str) -> tuple[int, int] | None:
    """The last "from X to Y" / "between X and Y" range in a sentence about the answer format."""
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


def parse_scale(stimulus: str | None) -> tuple[int, int] | None:
    """Return the answer range ``(low, high)`` the stimulus states, or ``None`` (open-ended).

    - Enumerated instructions ("Only return 1, 2, or 3", "Only return 1 for Yes or 2 for No",
      "Only return 1 for '...'; 2 for '...'") give their lowest and highest code. The codes of
      SocSci210's enumerations run consecutively from 1 (or 0), so the range is the allowed set,
      which is what both callers need: the uniform baseline draws from the integers of the
      range and candidate scoring enumerates them.
    - Otherwise a range: "from X to Y" and "between X and Y" (also "from X - Y"), with optional
      parenthesised labels after each bound, thousands separators and dollar signs. Only a range
      in a sentence that talks about the answer format (integer, number, scale, rate/rating,
      return, respond, answer) counts; of several, the last one wins, since the format sentence
      ends the stimulus.

    ``None`` means the answer is open-ended: an amount with no stated range ("Only return an
    integer representing dollars, nothing else.") or no recognisable format at all. Such rows
    are scored by generation only (no candidate set to enumerate, also under
    ``task.eval.decoding=score``), and the uniform baseline of their cells has no stated scale
    to draw from: it falls back to the cell's observed human range (see
    socio_re.tasks.socrates.metrics).
    """
    if not isinstance(stimulus, str):
        return None
    codes = enumerated_codes(stimulus)
    if codes:
        return min(codes), max(codes)
    return _stated_range(stimulus)
