"""The one document model every relext reader produces.

Offsets index ``Document.text`` = ``title + " " + abstract`` (LitCoin's convention; PubTator
and BioC offsets are converted to it by their readers). Relations link entity *identifiers*,
not mentions; a mention may carry several identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ENTITY_TYPES = (
    "GeneOrGeneProduct",
    "DiseaseOrPhenotypicFeature",
    "ChemicalEntity",
    "OrganismTaxon",
    "SequenceVariant",
    "CellLine",
)
RELATION_TYPES = (
    "Association",
    "Positive_Correlation",
    "Negative_Correlation",
    "Bind",
    "Cotreatment",
    "Comparison",
    "Drug_Interaction",
    "Conversion",
)
NOT = "NOT"
LABELS = (NOT, *RELATION_TYPES)  # class index 0 is NOT


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    type: str
    text: str
    ids: tuple[str, ...]


@dataclass(frozen=True)
class Relation:
    type: str
    id1: str
    id2: str
    # True = Novel, False = No, None = not annotated (LitCoin test, some corpora)
    novel: bool | None = None
    relation_id: str | None = None


@dataclass
class Document:
    id: str
    title: str
    abstract: str
    mentions: list[Mention] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.title} {self.abstract}"

    def entity_ids(self) -> list[str]:
        """Distinct entity identifiers in order of first mention."""
        seen: dict[str, None] = {}
        for m in sorted(self.mentions, key=lambda m: (m.start, m.end)):
            for i in m.ids:
                seen.setdefault(i, None)
        return list(seen)

    def mentions_of(self, entity_id: str) -> list[Mention]:
        return [m for m in self.mentions if entity_id in m.ids]

    def entity_type(self, entity_id: str) -> str:
        ms = self.mentions_of(entity_id)
        return ms[0].type if ms else ""
