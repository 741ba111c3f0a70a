"""A small synthetic LitCoin look-alike, for offline tests and smoke runs.

The files have LitCoin's exact layout (tab-separated ``.csv``, same columns, ids in the real
styles: Entrez numbers, MeSH ``D``/``C`` ids, NCBI taxonomy, tmVar ``p|SUB|V|600|E`` and rs
numbers, Cellosaurus ``CVCL_``), so the real reader and everything after it run unchanged. The
relations are not noise: a hidden rule makes them learnable.

* The type comes from the trigger phrase linking the two entities ("inhibits" ->
  Negative_Correlation, "binds to" -> Bind, "is metabolized to" -> Conversion, ...), restricted to
  BioRED's type pairs (Conversion only chemical-chemical, species and cell lines never related).
* About 18% of relations cross sentences: one sentence introduces A alone, the next refers back to
  it ("This compound inhibits B"), so no sentence holds both.
* Novelty is "No" exactly when the statement carries a prior-work cue ("Previous studies have
  shown that ..."), about 40% of relations.
* Unrelated co-mentions ("A and B were measured in all samples") and context mentions ("in mice",
  "in HeLa cells") supply realistic NOT pairs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from socio_re.data.relext.documents import Document, Mention, Relation
from socio_re.data.relext.readers.litcoin import write_litcoin

GENE, DISEASE, CHEMICAL = "GeneOrGeneProduct", "DiseaseOrPhenotypicFeature", "ChemicalEntity"
SPECIES, VARIANT, CELL_LINE = "OrganismTaxon", "SequenceVariant", "CellLine"

# The hidden rule: trigger phrases per relation type (what a model has to learn).
TRIGGERS = {
    "Association": ("is associated with", "was significantly associated with"),
    "Positive_Correlation": ("induces", "increases", "enhances", "markedly increased"),
    "Negative_Correlation": ("inhibits", "reduces", "suppresses", "markedly reduced"),
    "Bind": ("binds to", "directly binds to"),
    "Cotreatment": ("was given in combination with", "was administered in combination with"),
    "Comparison": ("was compared with", "was directly compared with"),
    "Drug_Interaction": ("interacts with", "was found to interact with"),
    "Conversion": ("is metabolized to", "was rapidly metabolized to"),
}
# BioRED's admissible (first, second) entity types per relation type.
_CORRELATION_PAIRS = (
    (CHEMICAL, DISEASE), (GENE, DISEASE), (CHEMICAL, GENE), (GENE, GENE), (CHEMICAL, CHEMICAL),
    (VARIANT, DISEASE), (CHEMICAL, VARIANT),
)
TYPE_PAIRS = {
    "Association": (
        (GENE, DISEASE), (CHEMICAL, DISEASE), (VARIANT, DISEASE), (GENE, GENE),
        (CHEMICAL, GENE), (CHEMICAL, VARIANT),
    ),
    "Positive_Correlation": _CORRELATION_PAIRS,
    "Negative_Correlation": _CORRELATION_PAIRS,
    "Bind": ((GENE, GENE), (CHEMICAL, GENE)),
    "Cotreatment": ((CHEMICAL, CHEMICAL),),
    "Comparison": ((CHEMICAL, CHEMICAL),),
    "Drug_Interaction": ((CHEMICAL, CHEMICAL),),
    "Conversion": ((CHEMICAL, CHEMICAL),),
}
# Association most frequent, Conversion rare (as in BioRED).
TYPE_WEIGHTS = {
    "Association": 0.30, "Positive_Correlation": 0.22, "Negative_Correlation": 0.20,
    "Bind": 0.08, "Cotreatment": 0.06, "Comparison": 0.05, "Drug_Interaction": 0.05,
    "Conversion": 0.04,
}
CROSS_SENTENCE_P = 0.18
NOVEL_P = 0.6
NOVEL_CUES = ("", "We found that ", "Here, we show that ", "Our data demonstrate that ")
KNOWN_CUES = (
    "Previous studies have shown that ", "It is well established that ", "As reported previously, "
)
ANAPHORS = {
    GENE: ("this protein", "this gene"),
    CHEMICAL: ("this compound", "the drug"),
    VARIANT: ("this variant", "this mutation"),
}
# Templates never use a trigger word, so only relation sentences carry the signal.
INTRO = {
    GENE: ("We next examined the role of {}.", "{} expression was quantified by Western blotting.",
           "The expression of {} was measured in tissue samples."),
    CHEMICAL: ("{} was administered daily for four weeks.", "We next examined the effects of {}.",
               "Animals received {} by oral gavage."),
    VARIANT: ("We genotyped {} in all participants.", "{} was detected by direct sequencing.",
              "Carriers of {} were identified in the cohort."),
}
NEUTRAL_PAIR = (
    "{} and {} were measured in all samples.", "Levels of {} and {} were recorded at baseline.",
    "We evaluated {} and {} in this cohort.", "Data on {} and {} were collected during follow-up.",
    "Both {} and {} were included in the analysis.",
)
NEUTRAL_ONE = (
    "{} was evaluated in this study.", "The role of {} remains unclear.",
    "{} has been studied extensively.",
)
CONTEXT_ONE = {
    SPECIES: ("Experiments were performed in {}.", "A total of 120 {} were included."),
    CELL_LINE: ("{} cells were cultured in standard medium.",
                "Experiments were carried out in {} cells."),
}
BACKGROUND = (
    "Further studies are needed to confirm these findings.",
    "These results provide new insights into disease mechanisms.",
    "The underlying mechanisms remain poorly understood.",
    "Samples were analysed by mass spectrometry.",
    "Statistical analysis was performed with standard methods.",
)
TITLES = (
    "Role of {} in experimental models.", "Effects of {}: a prospective study.",
    'A "two-hit" model involving {}.', "{} in clinical and experimental settings.",
    "New insights into {}.",
)


@dataclass(frozen=True, eq=False)  # identity equality: two species names may share one id
class _Entity:
    type: str
    name: str
    id: str
    abbr: str | None = None
    extra_id: str | None = None  # a second id carried by the first mention ("D1,D2")


# --- entity pools (fixed, so train and test share common entities as real corpora do) -------

_NAMED_GENES = (
    ("tumor necrosis factor alpha", "TNF-alpha", "7124"), ("interleukin-6", "IL-6", "3569"),
    ("vascular endothelial growth factor", "VEGF", "7422"),
    ("brain-derived neurotrophic factor", "BDNF", "627"),
    ("transforming growth factor beta 1", "TGF-beta1", "7040"),
    ("hypoxia-inducible factor 1 alpha", "HIF-1alpha", "3091"),
    ("nuclear factor erythroid 2-related factor 2", "Nrf2", "4780"),
    ("matrix metalloproteinase-9", "MMP-9", "4318"), ("cyclooxygenase-2", "COX-2", "5743"),
    ("insulin-like growth factor 1", "IGF-1", "3479"),
)
_GENE_SYMBOLS = (
    ("BRCA1", "672"), ("TP53", "7157"), ("EGFR", "1956"), ("KRAS", "3845"), ("AKT1", "207"),
    ("STAT3", "6774"), ("MTOR", "2475"), ("CDKN1A", "1026"), ("APOE", "348"), ("SOD1", "6647"),
    ("SIRT1", "23411"), ("PPARG", "5468"),
)
_GENE_PREFIXES = ("KLF", "SOX", "TRAF", "ZNF", "SLC7A", "ADAM", "RAB", "NR4A", "FOXP", "CDK",
                  "MAPK", "HSPA", "TMEM", "DUSP", "PRKC")
_NAMED_CHEMICALS = (
    ("5-fluorouracil", "5-FU", "D005472"), ("all-trans retinoic acid", "ATRA", "D014212"),
    ("reactive oxygen species", "ROS", "D017382"), ("lipopolysaccharide", "LPS", "D008070"),
    ("N-acetylcysteine", "NAC", "D000111"), ("hydrogen peroxide", "H2O2", "D006861"),
)
_CHEMICALS = (
    ("cisplatin", "D002945"), ("metformin", "D008687"), ("doxorubicin", "D004317"),
    ("acetaminophen", "D000082"), ("tamoxifen", "D013629"), ("dexamethasone", "D003907"),
    ("warfarin", "D014859"), ("sirolimus", "D020123"), ("curcumin", "D003474"),
    ("resveratrol", "D000077185"), ("paclitaxel", "D017239"), ("codeine", "D003061"),
    ("morphine", "D009020"), ("endoxifen", "C505385"),
)
_SYLLABLES = (
    ("vala", "dexo", "mira", "toli", "carbo", "lora", "zeta", "meto", "ribo", "quina", "sora"),
    ("pra", "xi", "ti", "lo", "ve", "na", ""),
    ("zole", "pril", "statin", "mycin", "pam", "olol", "sartan", "tinib", "fen", "dronate"),
)
_NAMED_DISEASES = (
    ("non-alcoholic fatty liver disease", "NAFLD", "D065626"),
    ("acute kidney injury", "AKI", "D058186"),
    ("chronic obstructive pulmonary disease", "COPD", "D029424"),
    ("hepatocellular carcinoma", "HCC", "D006528"), ("Alzheimer's disease", "AD", "D000544"),
    ("rheumatoid arthritis", "RA", "D001172"), ("amyotrophic lateral sclerosis", "ALS", "D000690"),
)
_DISEASES = (
    ("type 2 diabetes", "D003924"), ("Crohn's disease", "D003424"), ("hypertension", "D006973"),
    ("obesity", "D009765"), ("breast cancer", "D001943"), ("neuropathic pain", "D009437"),
    ("insulin resistance", "D007333"), ("cardiotoxicity", "D066126"), ("epilepsy", "D004827"),
    ("hepatotoxicity", "D056486"),
)
_ORGANS = ("hepatic", "renal", "cardiac", "pulmonary", "neuronal", "gastric", "pancreatic")
_CONDITIONS = ("fibrosis", "injury", "inflammation", "carcinoma", "hypertrophy", "ischemia")
_SPECIES = (
    ("patients", "9606"), ("mice", "10090"), ("rats", "10116"), ("zebrafish", "7955"),
    ("Escherichia coli", "562"), ("Saccharomyces cerevisiae", "4932"), ("rhesus monkeys", "9544"),
    ("pigs", "9823"),
)
_CELL_LINES = (
    ("HeLa", "CVCL_0030"), ("MCF-7", "CVCL_0031"), ("A549", "CVCL_0023"), ("HepG2", "CVCL_0027"),
    ("HEK293", "CVCL_0045"), ("SH-SY5Y", "CVCL_0019"), ("PC-3", "CVCL_0035"),
    ("Jurkat", "CVCL_0065"), ("Caco-2", "CVCL_0025"), ("RAW 264.7", "CVCL_0493"),
    ("KR-31", "CVCL_7Q2A"), ("HTL-9", "CVCL_B4K1"),
)
_AMINO = "ACDEFGHIKLMNPQRSTVWY"


def _unique(draw, used: set[str]) -> str:
    """Draw until the value is new, and remember it (ids must never collide)."""
    while True:
        value = draw()
        if value not in used:
            used.add(value)
            return value


def _unique_int(rng: random.Random, low: int, high: int, used: set[str]) -> str:
    return _unique(lambda: str(rng.randrange(low, high)), used)


def _gene_pool(rng: random.Random) -> list[_Entity]:
    pool = [_Entity(GENE, name, gid, abbr) for name, abbr, gid in _NAMED_GENES]
    pool += [_Entity(GENE, sym, gid) for sym, gid in _GENE_SYMBOLS]
    # Taxonomy ids are numbers too; a gene must never share one.
    used = {e.id for e in pool} | {tax for _, tax in _SPECIES}
    names = {e.name for e in pool}
    while len(pool) < 55:
        name = f"{rng.choice(_GENE_PREFIXES)}{rng.randrange(1, 20)}"
        if name not in names:
            names.add(name)
            pool.append(_Entity(GENE, name, _unique_int(rng, 100, 150_000, used)))
    return pool


def _mesh_id(rng: random.Random, used: set[str], prefix: str = "D") -> str:
    return _unique(lambda: f"{prefix}{rng.randrange(1_000, 90_000):06d}", used)


def _chemical_pool(rng: random.Random) -> list[_Entity]:
    pool = [_Entity(CHEMICAL, name, cid, abbr) for name, abbr, cid in _NAMED_CHEMICALS]
    pool += [_Entity(CHEMICAL, name, cid) for name, cid in _CHEMICALS]
    used = {e.id for e in pool}
    names = {e.name for e in pool}
    while len(pool) < 45:
        name = "".join(rng.choice(part) for part in _SYLLABLES)
        if name not in names:
            names.add(name)
            prefix = "C" if rng.random() < 0.3 else "D"
            pool.append(_Entity(CHEMICAL, name, _mesh_id(rng, used, prefix)))
    # A few entities whose first mention carries two ids, comma-separated, as in LitCoin.
    for i in (3, 9, 17):
        pool[i] = _Entity(CHEMICAL, pool[i].name, pool[i].id, pool[i].abbr, _mesh_id(rng, used))
    return pool


def _disease_pool(rng: random.Random) -> list[_Entity]:
    pool = [_Entity(DISEASE, name, did, abbr) for name, abbr, did in _NAMED_DISEASES]
    pool += [_Entity(DISEASE, name, did) for name, did in _DISEASES]
    used = {e.id for e in pool}
    pool += [
        _Entity(DISEASE, f"{organ} {condition}", _mesh_id(rng, used))
        for organ in _ORGANS for condition in _CONDITIONS if rng.random() < 0.5
    ]
    pool[5] = _Entity(DISEASE, pool[5].name, pool[5].id, pool[5].abbr, _mesh_id(rng, used))
    return pool


def _variant_pool(rng: random.Random) -> list[_Entity]:
    pool = [_Entity(VARIANT, "p.V600E", "p|SUB|V|600|E"),
            _Entity(VARIANT, "rs113488022", "rs113488022")]
    names = {e.name for e in pool}
    while len(pool) < 40:
        kind = rng.random()
        pos = rng.randrange(12, 2_000)
        if kind < 0.45:
            ref, alt = rng.sample(_AMINO, 2)
            name, vid = f"p.{ref}{pos}{alt}", f"p|SUB|{ref}|{pos}|{alt}"
        elif kind < 0.6:
            ref, alt = rng.sample("ACGT", 2)
            name, vid = f"c.{pos}{ref}>{alt}", f"c|SUB|{ref}|{pos}|{alt}"
        else:
            name = vid = f"rs{rng.randrange(1_000_000, 900_000_000)}"
        if name not in names:
            names.add(name)
            pool.append(_Entity(VARIANT, name, vid))
    return pool


@dataclass
class _Pools:
    by_type: dict[str, list[_Entity]]

    @classmethod
    def build(cls) -> _Pools:
        rng = random.Random(20_240_601)  # fixed: the vocabulary does not depend on the seed
        return cls({
            GENE: _gene_pool(rng), CHEMICAL: _chemical_pool(rng), DISEASE: _disease_pool(rng),
            VARIANT: _variant_pool(rng),
            SPECIES: [_Entity(SPECIES, n, i) for n, i in _SPECIES],
            CELL_LINE: [_Entity(CELL_LINE, n, i) for n, i in _CELL_LINES],
        })


# --- one document ----------------------------------------------------------------------------

Segment = str | _Entity
Sentence = list[Segment]


def _fill(template: str, *entities: _Entity) -> Sentence:
    """``"{} and {} were measured."`` -> ``["", A, " and ", B, " were measured."]``."""
    parts = template.split("{}")
    out: Sentence = [parts[0]]
    for entity, text in zip(entities, parts[1:], strict=True):
        out += [entity, text]
    return [s for s in out if s != ""]


@dataclass
class _Plan:
    """What one abstract says; rendered into text (and offsets) only at the end."""

    rng: random.Random
    pools: _Pools
    uses: dict[_Entity, int] = field(default_factory=dict)
    units: list[list[Sentence]] = field(default_factory=list)  # adjacent sentences stay together
    relations: list[Relation] = field(default_factory=list)
    related: set[frozenset[str]] = field(default_factory=set)

    def pick(self, etype: str, max_uses: int, exclude: _Entity | None = None) -> _Entity:
        """An entity already in the abstract (sometimes) or a fresh one from the pool."""
        reusable = [e for e, n in self.uses.items()
                    if e.type == etype and n < max_uses and e is not exclude]
        if reusable and self.rng.random() < 0.35:
            entity = self.rng.choice(reusable)
        else:
            fresh = [e for e in self.pools.by_type[etype] if e not in self.uses]
            entity = self.rng.choice(fresh)
        self.uses[entity] = self.uses.get(entity, 0) + 1
        return entity

    def sentence_count(self) -> int:
        return sum(len(u) for u in self.units)

    def add_relation(self, rtype: str) -> None:
        first, second = self.rng.choice(TYPE_PAIRS[rtype])
        a = self.pick(first, 2)
        b = self.pick(second, 2, exclude=a)
        key = frozenset((a.id, b.id))
        if key in self.related:  # one relation per pair of ids: forget this pick
            for e in (a, b):
                self.uses[e] -= 1
                if not self.uses[e]:
                    del self.uses[e]
            return
        self.related.add(key)
        novel = self.rng.random() < NOVEL_P
        cue = self.rng.choice(NOVEL_CUES if novel else KNOWN_CUES)
        trigger = self.rng.choice(TRIGGERS[rtype])
        ctx = self._context_suffix()
        if self.rng.random() < CROSS_SENTENCE_P:
            intro = _fill(self.rng.choice(INTRO[a.type]), a)
            anaphor = self.rng.choice(ANAPHORS[a.type])
            self.units.append([intro, [f"{cue}{anaphor} {trigger} ", b, *ctx, "."]])
        else:
            self.units.append([[cue, a, f" {trigger} ", b, *ctx, "."] if cue else
                               [a, f" {trigger} ", b, *ctx, "."]])
        self.relations.append(Relation(rtype, a.id, b.id, novel, None))

    def _context_suffix(self) -> Sentence:
        roll = self.rng.random()
        if roll < 0.2:
            return [" in ", self.pick(SPECIES, 3)]
        if roll < 0.3:
            return [" in ", self.pick(CELL_LINE, 3), " cells"]
        return []

    def add_neutral(self) -> None:
        """An unrelated co-mention, or a single mention, with trigger-free wording."""
        etype = self.rng.choice((GENE, CHEMICAL, DISEASE, VARIANT, SPECIES, CELL_LINE))
        a = self.pick(etype, 3)
        partners = [e for e, n in self.uses.items() if n < 3 and e is not a
                    and frozenset((a.id, e.id)) not in self.related and e.id != a.id]
        if partners and self.rng.random() < 0.7:
            b = self.rng.choice(partners)
            self.uses[b] += 1
            self.units.append([_fill(self.rng.choice(NEUTRAL_PAIR), a, b)])
        elif a.type in CONTEXT_ONE:
            self.units.append([_fill(self.rng.choice(CONTEXT_ONE[a.type]), a)])
        else:
            self.units.append([_fill(self.rng.choice(NEUTRAL_ONE), a)])

    def title(self) -> Sentence:
        candidates = [e for e, n in self.uses.items() if n < 3 and e.type not in CONTEXT_ONE]
        if not candidates:
            return ["Molecular mechanisms in experimental models."]
        entity = self.rng.choice(candidates)
        self.uses[entity] += 1
        return _fill(self.rng.choice(TITLES), entity)


class _Renderer:
    """Concatenates segments, recording each entity's mention with its offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.mentions: list[Mention] = []
        self.seen: set[_Entity] = set()

    def text(self, s: str) -> None:
        self.parts.append(s)
        self.pos += len(s)

    def mention(self, entity: _Entity, surface: str, first: bool) -> None:
        ids = (entity.id, entity.extra_id) if first and entity.extra_id else (entity.id,)
        self.mentions.append(Mention(self.pos, self.pos + len(surface), entity.type, surface, ids))
        self.text(surface)

    def entity(self, entity: _Entity, initial: bool) -> None:
        first = entity not in self.seen
        self.seen.add(entity)
        if entity.abbr and first:  # "full name (ABBR)": two mentions, as annotated in LitCoin
            self.mention(entity, _cap(entity, entity.name, initial), first=True)
            self.text(" (")
            self.mention(entity, entity.abbr, first=False)
            self.text(")")
        else:
            self.mention(entity, _cap(entity, entity.abbr or entity.name, initial), first)

    def sentence(self, segments: Sentence) -> None:
        for i, seg in enumerate(segments):
            if isinstance(seg, _Entity):
                self.entity(seg, initial=i == 0)
            else:
                self.text(seg[:1].upper() + seg[1:] if i == 0 else seg)


def _cap(entity: _Entity, surface: str, initial: bool) -> str:
    """Sentence-initial names are capitalised ("Cisplatin"), variants never ("p.V600E")."""
    if initial and entity.type != VARIANT and surface[:1].islower():
        return surface[0].upper() + surface[1:]
    return surface


def _document(rng: random.Random, pools: _Pools, doc_id: str, forced: str | None) -> Document:
    plan = _Plan(rng, pools)
    types = list(TYPE_WEIGHTS)
    rtypes = [forced] if forced else []
    rtypes += rng.choices(types, weights=list(TYPE_WEIGHTS.values()), k=rng.randint(1, 3))
    for rtype in rtypes:
        if plan.sentence_count() < 7:
            plan.add_relation(rtype)
    for _ in range(rng.randint(1, 3)):
        if plan.sentence_count() < 8:
            plan.add_neutral()
    while plan.sentence_count() < 4 or (plan.sentence_count() < 8 and rng.random() < 0.3):
        plan.units.append([[rng.choice(BACKGROUND)]])
    # Shuffle whole units: a cross-sentence relation's two sentences must stay adjacent.
    rng.shuffle(plan.units)
    sentences = [s for unit in plan.units for s in unit]
    title = plan.title()

    out = _Renderer()
    out.sentence(title)
    title_len = out.pos
    for sentence in sentences:
        out.text(" ")
        out.sentence(sentence)
    text = "".join(out.parts)
    return Document(doc_id, text[:title_len], text[title_len + 1:], out.mentions, plan.relations)


def _split_documents(
    rng: random.Random, pools: _Pools, n: int, used_ids: set[str]
) -> list[Document]:
    docs = []
    for i in range(n):
        doc_id = _unique_int(rng, 10_000_000, 39_999_999, used_ids)
        # The first eight documents of a split each carry one relation type, so every class is
        # present in every split of at least eight documents.
        forced = list(TRIGGERS)[i] if i < len(TRIGGERS) else None
        docs.append(_document(rng, pools, doc_id, forced))
    return docs


def generate_litcoin_documents(
    *, num_train: int = 160, num_test: int = 40, seed: int = 0
) -> dict[str, list[Document]]:
    """The sample as documents (``train`` and ``test``), without writing files."""
    rng = random.Random(seed)
    pools = _Pools.build()
    used: set[str] = set()
    train = _split_documents(rng, pools, num_train, used)
    test = _split_documents(rng, pools, num_test, used)
    return {"train": train, "test": test}


def generate_litcoin_sample(
    out_dir: str | Path, *, num_train: int = 160, num_test: int = 40, seed: int = 0
) -> list[Path]:
    """Write ``{abstracts,entities,relations}_{train,test}.csv`` to ``out_dir``; returns paths.

    The test split has relations too (unlike the real one) so that predictions can be scored.
    """
    docs = generate_litcoin_documents(num_train=num_train, num_test=num_test, seed=seed)
    paths: list[Path] = []
    for split, split_docs in docs.items():
        paths += write_litcoin(split_docs, out_dir, split)
    return paths
