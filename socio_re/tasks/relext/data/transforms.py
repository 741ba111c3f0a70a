"""Entity marker transforms: mark every mention of entity A and of entity B in an instance.

| method                    | A                              | B                            |
|---------------------------|--------------------------------|------------------------------|
| entity_mask               | ``[SUBJ-Type]`` (replaces m)   | ``[OBJ-Type]``               |
| entity_marker             | ``[E1] m [/E1]``               | ``[E2] m [/E2]``             |
| entity_marker_punct       | ``@ m @``                      | ``# m #``                    |
| typed_entity_marker       | ``[SUBJ-Type] m [/SUBJ-Type]`` | ``[OBJ-Type] m [/OBJ-Type]`` |
| typed_entity_marker_punct | ``@ * Type * m @``             | ``# ^ Type ^ m #``           |

``Type`` is the type of that mention as written in the data (e.g. ``ChemicalEntity``). The
``*_punkt`` spellings of the reference code are aliases.

Overlapping mentions: markers cannot cross, so among overlapping mentions (of A and B, or two
of the same entity) the longer one is kept and the other dropped (ties: A's, then the earlier).
If that would leave an entity with no marker at all (e.g. one composite mention carrying both
ids), its longest mention is put back *nested* inside the mention that swallowed it (widened
to contain it if the two only cross), so the pooling positions ``a_start``/``b_start`` always
exist. With ``entity_mask`` a nested group becomes the outer mask followed by the inner one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from socio_re.errors import ConfigError
from socio_re.tasks.relext.data.documents import ENTITY_TYPES
from socio_re.tasks.relext.data.instances import Instance

METHODS = (
    "entity_mask",
    "entity_marker",
    "entity_marker_punct",
    "typed_entity_marker",
    "typed_entity_marker_punct",
)
ALIASES = {
    "entity_marker_punkt": "entity_marker_punct",
    "typed_entity_marker_punkt": "typed_entity_marker_punct",
}


def canonical_method(method: str) -> str:
    """The canonical method name; unknown names are a ConfigError listing the allowed ones."""
    name = ALIASES.get(method, method)
    if name not in METHODS:
        allowed = ", ".join((*METHODS, *ALIASES))
        raise ConfigError("task.transform", method, allowed)
    return name


def _markers(method: str, role: str, etype: str) -> tuple[str, str]:
    """(open, close) marker of a mention of entity ``role`` ("a" or "b"); close is "" for mask."""
    subj = role == "a"
    if method == "entity_mask":
        return (f"[SUBJ-{etype}]" if subj else f"[OBJ-{etype}]"), ""
    if method == "entity_marker":
        return ("[E1]", "[/E1]") if subj else ("[E2]", "[/E2]")
    if method == "entity_marker_punct":
        return ("@", "@") if subj else ("#", "#")
    if method == "typed_entity_marker":
        tag = f"SUBJ-{etype}" if subj else f"OBJ-{etype}"
        return f"[{tag}]", f"[/{tag}]"
    return (f"@ * {etype} *", "@") if subj else (f"# ^ {etype} ^", "#")


def marker_tokens(method: str, entity_types: tuple[str, ...] = ENTITY_TYPES) -> list[str]:
    """New tokens the tokenizer must learn for ``method`` ([] for the punctuation methods)."""
    method = canonical_method(method)
    if method.endswith("_punct"):
        return []
    if method == "entity_marker":
        return ["[E1]", "[/E1]", "[E2]", "[/E2]"]
    tokens: list[str] = []
    for role in ("a", "b"):
        for etype in entity_types:
            tokens.extend(t for t in _markers(method, role, etype) if t)
    return tokens


# --------------------------------------------------------------------------- mention layout


@dataclass
class _Mark:
    start: int
    end: int
    role: str  # "a" or "b"
    type: str
    inner: list[_Mark] = field(default_factory=list)  # nested marks (see module docstring)

    def overlaps(self, other: _Mark) -> bool:
        return self.start < other.end and other.start < self.end


def _priority(m: _Mark) -> tuple:
    return (-(m.end - m.start), m.role, m.start)  # longer first, then A, then earlier


def _layout(inst: Instance) -> list[_Mark]:
    """Non-overlapping top-level marks, each entity guaranteed at least one mark."""
    marks = [_Mark(s, e, "a", t) for s, e, t in inst.entity_a]
    marks += [_Mark(s, e, "b", t) for s, e, t in inst.entity_b]
    kept: list[_Mark] = []
    for m in sorted(marks, key=_priority):
        if not any(m.overlaps(k) for k in kept):
            kept.append(m)
    for role in ("a", "b"):
        if not any(k.role == role for k in kept):
            best = min((m for m in marks if m.role == role), key=_priority, default=None)
            if best is not None:
                kept = _nest(kept, best)
    return sorted(kept, key=lambda m: m.start)


def _nest(kept: list[_Mark], lost: _Mark) -> list[_Mark]:
    """Put ``lost`` back inside the kept mark containing it, or around the marks it overlaps."""
    hits = [k for k in kept if k.overlaps(lost)]
    if len(hits) == 1 and hits[0].start <= lost.start and lost.end <= hits[0].end:
        hits[0].inner.append(lost)
        return kept
    # Widen to contain every mark it crosses, then wrap them.
    lost.start = min([lost.start, *(h.start for h in hits)])
    lost.end = max([lost.end, *(h.end for h in hits)])
    lost.inner = sorted(hits, key=lambda m: m.start)
    return [k for k in kept if k not in hits] + [lost]


# --------------------------------------------------------------------------- rendering


class _Writer:
    """Accumulates output and remembers where each role's first start marker landed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.first: dict[str, int] = {}
        self.starts: dict[str, list[int]] = {"a": [], "b": []}

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        self.length += len(piece)

    def marker(self, role: str, piece: str) -> None:
        self.first.setdefault(role, self.length)
        self.starts[role].append(self.length)
        self.add(piece)


def _render(w: _Writer, text: str, lo: int, hi: int, marks: list[_Mark], method: str) -> None:
    cursor = lo
    for m in sorted(marks, key=lambda m: m.start):
        w.add(text[cursor : m.start])
        opener, closer = _markers(method, m.role, m.type)
        w.marker(m.role, opener)
        if method == "entity_mask":
            for inner in m.inner:
                w.add(" ")
                w.marker(inner.role, _markers(method, inner.role, inner.type)[0])
        else:
            w.add(" ")
            _render(w, text, m.start, m.end, m.inner, method)
            w.add(" " + closer)
        cursor = m.end
    w.add(text[cursor:hi])


def apply_transform(inst: Instance, method: str) -> tuple[str, dict]:
    """The instance text with every mention of A and B marked by ``method``.

    Returns (text, {"a_start": ..., "b_start": ..., "a_starts": [...], "b_starts": [...]}):
    character offsets in the new text of the first start marker of A and of B (-1 only if the
    instance has no span for that entity), and of every start marker of each (in text order:
    what a window that must keep one marker of each chooses from).
    """
    method = canonical_method(method)
    w = _Writer()
    _render(w, inst.text, 0, len(inst.text), _layout(inst), method)
    out = "".join(w.parts)
    return out, {"a_start": w.first.get("a", -1), "b_start": w.first.get("b", -1),
                 "a_starts": sorted(w.starts["a"]), "b_starts": sorted(w.starts["b"])}
