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

``profile="real"`` (opt-in; the default ``"sample"`` is unchanged) shapes the corpus like the real
LitCoin/BioRED one, for sizing runs and benchmarks: 400 / 100 / 100 abstracts (train / dev /
test), about 10 relations, 14 distinct entities and 34 mentions per abstract, a title of about
15 words and 9-12 sentences of about 20 words (about 240 words). The same hidden rule holds; one
sentence may state one relation type from one entity to several ("A inhibits B, C and D").
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from socio_re.tasks.relext.data.documents import Document, Mention, Relation
from socio_re.tasks.relext.data.readers.litcoin import write_litcoin

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


def _render_document(doc_id: str, title: Sentence, sentences: list[Sentence],
                     relations: list) -> Document:
    """The document whose text is the title, then the sentences joined by spaces, with the
    mentions the rendering placed."""
    out = _Renderer()
    out.sentence(title)
    title_len = out.pos
    for sentence in sentences:
        out.text(" ")
        out.sentence(sentence)
    text = "".join(out.parts)
    return Document(doc_id, text[:title_len], text[title_len + 1:], out.mentions, relations)


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

    return _render_document(doc_id, title, sentences, plan.relations)


# --- the real-size profile (profile="real") --------------------------------------------------
#
# Shaped like LitCoin/BioRED: 600 abstracts as 400 / 100 / 100 (4,178 / 1,162 / 1,163 relations,
# about 10.4 per abstract), 13,636 mentions in the 400 training abstracts (about 34 per
# abstract), titles of about 15 words and abstracts of about 200-300 words. Pairs of every
# distinct entity id then give about 23k training instances (58 per abstract after the default
# type-pair filter), as the real corpus does.

PROFILES = ("sample", "real")
SPLIT_SIZES = {"sample": {"train": 160, "dev": 0, "test": 40},
               "real": {"train": 400, "dev": 100, "test": 100}}
# Entity types of an abstract's relatable entities, and how many distinct ones it has.
_REAL_TYPE_WEIGHTS = {CHEMICAL: 0.34, GENE: 0.32, DISEASE: 0.22, VARIANT: 0.12}
# Relatable entities and relations wanted per abstract (uniform ranges; fewer relations when
# admissible pairs run out). BioRED's dev and test abstracts are denser than its training ones
# (11.6 relations and about 76 pair instances per abstract against 10.4 and 58), and so are
# these.
_REAL_ENTITIES = {"train": (9, 14), "dev": (10, 16), "test": (10, 16)}
_REAL_RELATIONS = {"train": (4, 17), "dev": (5, 18), "test": (5, 18)}
_REAL_CONTEXT = (0, 1, 1, 2, 2)  # species / cell lines per abstract
_REAL_FOCUS = (1, 2, 2)       # focus entities per abstract
_REAL_FOCUS_RELATION_P = 0.8  # a relation involves a focus entity (when one is admissible)
_REAL_FOCUS_NEUTRAL_P = 0.9   # a neutral sentence mentions a focus entity
_REAL_ORDER_NOISE = 0.15     # how loosely statements follow their entities' order
_REAL_SENTENCES = (8, 11)     # body sentences wanted (uniform), besides the title
_REAL_EXTRA_TARGETS = (0, 1, 1, 2, 2)  # further targets of one statement ("A inhibits B and C")
_REAL_CLAUSE_P = 0.95
_REAL_SECOND_CLAUSE_P = 0.2
# Trigger-free clauses that give sentences their real length (about 20 words).
_REAL_CLAUSES = (
    " in a cohort of {n} participants followed for {m} years",
    ", as assessed by quantitative real-time PCR and immunohistochemistry",
    " after adjustment for age, sex, body mass index and smoking status",
    " in both the discovery and the replication cohorts",
    ", and this finding was consistent across all subgroups examined",
    " at baseline and after {m} months of follow-up",
    ", as determined by Western blotting and flow cytometry",
    " in primary cultures and in tissue samples from the same donors",
    " in a dose-dependent and time-dependent manner",
    ", independently of other clinical and demographic variables",
)
_REAL_BACKGROUND = (
    "The molecular mechanisms underlying these observations remain poorly understood, and few "
    "studies have addressed them in humans.",
    "Samples were collected at baseline and analysed by liquid chromatography and tandem mass "
    "spectrometry in a blinded fashion.",
    "Statistical analysis was performed with mixed-effects models that accounted for repeated "
    "measurements within each participant.",
    "Further prospective studies in larger and more diverse populations are needed to confirm "
    "these findings.",
    "These results provide new insights into disease mechanisms and may guide the design of "
    "future clinical trials.",
    "We conducted a randomized, double-blind, placebo-controlled study in two independent "
    "centres over a period of three years.",
)
_REAL_NEUTRAL = (
    "Levels of {} were recorded at baseline in all participants",
    "We measured {} in all samples with validated assays",
    "Data on {} were collected prospectively during follow-up",
    "{} were included as covariates in the multivariable analysis",
    "We next examined the expression and distribution of {} in this setting",
)
_REAL_OPENING = (
    "{} has been studied extensively in experimental and clinical settings over the past "
    "decade.",
    "The biological role of {} in human disease remains incompletely understood despite "
    "decades of research.",
    "{} is widely used in clinical practice, but its effects in this setting are unclear.",
)
_REAL_CLOSING = (
    "Taken together, our findings suggest that {} may be a promising therapeutic target in "
    "this population.",
    "These data support a central role of {} and warrant further mechanistic studies.",
    "In conclusion, {} deserves further evaluation in larger prospective clinical studies.",
)
_REAL_TITLES = (
    "Role of {} in {}: evidence from a prospective cohort and from experimental models.",
    "Effects of {} on {} in patients and in animal models: a randomized controlled study.",
    "{} and {} in clinical and experimental settings: a multicentre observational study.",
    "New insights into the role of {} in the pathogenesis and progression of {}.",
)


def _listing(entities: list[_Entity]) -> Sentence:
    """``[A]``, ``[A, " and ", B]``, ``[A, ", ", B, " and ", C]``."""
    out: Sentence = []
    for i, e in enumerate(entities):
        if i:
            out.append(" and " if i == len(entities) - 1 else ", ")
        out.append(e)
    return out


def _real_document(rng: random.Random, pools: _Pools, doc_id: str, forced: str | None,
                   split: str = "train") -> Document:
    """One abstract of the real-size profile (module docstring) for ``split``.

    As in real abstracts, mentions are skewed: one or two focus entities (the study's drug or
    gene) appear in the title and in most sentences and take part in most relations, the others
    in a sentence or two. A pair with a focus entity then has a long context (most of the
    abstract), a pair of two others a short one."""
    # The abstract's entities: relatable ones by type, plus a few species / cell lines.
    types = rng.choices(list(_REAL_TYPE_WEIGHTS), weights=list(_REAL_TYPE_WEIGHTS.values()),
                        k=rng.randint(*_REAL_ENTITIES[split]))
    by_type: dict[str, list[_Entity]] = {}
    for etype in types:
        fresh = [e for e in pools.by_type[etype] if e not in by_type.get(etype, [])]
        by_type.setdefault(etype, []).append(rng.choice(fresh))
    if forced:  # the forced type's first admissible pair must exist
        first, second = TYPE_PAIRS[forced][0]
        for etype in dict.fromkeys((first, second)):
            while len(by_type.get(etype, [])) < (first, second).count(etype):
                fresh = [e for e in pools.by_type[etype] if e not in by_type.get(etype, [])]
                by_type.setdefault(etype, []).append(rng.choice(fresh))
    context = [rng.choice(pools.by_type[rng.choice((SPECIES, SPECIES, CELL_LINE))])
               for _ in range(rng.choice(_REAL_CONTEXT))]
    context = list(dict.fromkeys(context))
    relatable = [e for es in by_type.values() for e in es]
    focus_pool = [e for e in relatable if e.type in (GENE, CHEMICAL)] or relatable
    focus = rng.sample(focus_pool, min(len(focus_pool), rng.choice(_REAL_FOCUS)))

    # The relations, grouped by statement: (type, head, [targets]).
    related: set[frozenset[str]] = set()
    groups: list[tuple[str, _Entity, list[_Entity]]] = []
    wanted = rng.randint(*_REAL_RELATIONS[split])
    n_rel = attempts = 0
    type_names, type_weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
    while n_rel < wanted and attempts < 60:
        attempts += 1
        rtype = forced if forced and not groups else rng.choices(type_names, type_weights)[0]
        pairs = [(a, b) for first, second in TYPE_PAIRS[rtype] for a in by_type.get(first, [])
                 for b in by_type.get(second, [])
                 if a is not b and frozenset((a.id, b.id)) not in related]
        focused = [(a, b) for a, b in pairs if a in focus or b in focus]
        if focused and rng.random() < _REAL_FOCUS_RELATION_P:
            pairs = focused
        if not pairs:
            continue
        head, target = rng.choice(pairs)
        targets = [target]
        more = [b for a, b in pairs if a is head and b is not target]
        rng.shuffle(more)
        for b in more[:rng.choice(_REAL_EXTRA_TARGETS)]:
            if b not in targets:
                targets.append(b)
        targets = targets[:max(1, wanted - n_rel)]
        related.update(frozenset((head.id, b.id)) for b in targets)
        groups.append((rtype, head, targets))
        n_rel += len(targets)

    def clause() -> str:
        if rng.random() >= _REAL_CLAUSE_P:
            return ""
        k = 2 if rng.random() < _REAL_SECOND_CLAUSE_P else 1
        return "".join(c.format(n=rng.randrange(40, 900), m=rng.randint(2, 10))
                       for c in rng.sample(_REAL_CLAUSES, k))

    mentioned: dict[_Entity, int] = {}

    def count(sentence: Sentence) -> Sentence:
        for seg in sentence:
            if isinstance(seg, _Entity):
                mentioned[seg] = mentioned.get(seg, 0) + 1
        return sentence

    units: list[list[Sentence]] = []
    relations: list[Relation] = []
    for rtype, head, targets in groups:
        novel = rng.random() < NOVEL_P
        cue = rng.choice(NOVEL_CUES if novel else KNOWN_CUES)
        trigger = rng.choice(TRIGGERS[rtype])
        ctx: Sentence = []
        if context and rng.random() < 0.35:
            c = rng.choice(context)
            ctx = [" in ", c, " cells"] if c.type == CELL_LINE else [" in ", c]
        tail = [*_listing(targets), *ctx, clause() + "."]
        if rng.random() < CROSS_SENTENCE_P and head.type in ANAPHORS:
            intro = _fill(rng.choice(INTRO[head.type]), head)
            intro[-1] = intro[-1][:-1] + clause() + "."
            anaphor = rng.choice(ANAPHORS[head.type])
            units.append([count(intro), count([f"{cue}{anaphor} {trigger} ", *tail])])
        else:
            units.append([count([cue, head, f" {trigger} ", *tail] if cue else
                                [head, f" {trigger} ", *tail])])
        relations += [Relation(rtype, head.id, b.id, novel, None) for b in targets]

    # Neutral sentences up to the abstract's length: mostly a focus entity with one or two of
    # the least mentioned others ("Levels of A, B and C were recorded at baseline").
    others = [e for e in relatable if e not in focus]
    n_sentences = rng.randint(*_REAL_SENTENCES)
    # The abstract opens with the background of its focus entity and closes on it.
    opening = [count(_fill(rng.choice(_REAL_OPENING), focus[0]))] if focus else []
    closing = [count(_fill(rng.choice(_REAL_CLOSING), focus[-1]))] if focus else []
    n_sentences -= len(opening) + len(closing)
    while sum(len(u) for u in units) < n_sentences:
        chosen = [rng.choice(focus)] if focus and rng.random() < _REAL_FOCUS_NEUTRAL_P else []
        need = sorted((e for e in others if mentioned.get(e, 0) < 3),
                      key=lambda e: (mentioned.get(e, 0), rng.random()))
        k = rng.choice((2, 2, 3))
        for e in need:
            if len(chosen) >= k + bool(chosen and chosen[0] in focus):
                break
            if all(frozenset((e.id, c.id)) not in related for c in chosen if c not in focus):
                chosen.append(e)
        if chosen:
            units.append([count(_neutral_listing(rng, chosen, clause()))])
        else:
            units.append([[rng.choice(_REAL_BACKGROUND)]])
    for e in relatable:  # a last sentence for any entity still unmentioned
        if e not in mentioned:
            units.append([count(_neutral_listing(rng, [e], clause()))])
    for e in context:
        if e not in mentioned:
            units.append([count(_fill(rng.choice(CONTEXT_ONE[e.type]), e))])
    # Entities come in one after another, as in a real abstract (background, methods, results):
    # each other entity gets a rank, and a statement comes about where its latest-ranked entity
    # does (with some noise), so many entities appear only late, after most of the focus
    # entity's sentences.
    rank = {e: i for i, e in enumerate(rng.sample(others, len(others)))}

    def place(unit: list[Sentence]) -> float:
        ranks = [rank.get(seg, -1) for sentence in unit for seg in sentence
                 if isinstance(seg, _Entity)]
        return max(ranks, default=-1) + _REAL_ORDER_NOISE * len(others) * rng.random()

    units.sort(key=place)
    units = [opening] * bool(opening) + units + [closing] * bool(closing)
    sentences = [s for unit in units for s in unit]

    partners = [e for e in relatable if e not in focus[:1]]
    if focus and partners:
        title = _fill(rng.choice(_REAL_TITLES), focus[0], rng.choice(partners))
    else:
        title = ["Molecular mechanisms in clinical and experimental models of human disease."]

    return _render_document(doc_id, title, sentences, relations)


def _neutral_listing(rng: random.Random, entities: list[_Entity], clause: str) -> Sentence:
    """``"Levels of A, B and C were recorded at baseline<clause>."``: a trigger-free co-mention."""
    before, after = rng.choice(_REAL_NEUTRAL).split("{}")
    sentence: Sentence = [before, *_listing(entities), after + clause + "."]
    return [s for s in sentence if s != ""]


def _split_documents(
    rng: random.Random, pools: _Pools, n: int, used_ids: set[str], make=_document
) -> list[Document]:
    docs = []
    for i in range(n):
        doc_id = _unique_int(rng, 10_000_000, 39_999_999, used_ids)
        # The first eight documents of a split each carry one relation type, so every class is
        # present in every split of at least eight documents.
        forced = list(TRIGGERS)[i] if i < len(TRIGGERS) else None
        docs.append(make(rng, pools, doc_id, forced))
    return docs


def generate_litcoin_documents(
    *, num_train: int | None = None, num_test: int | None = None, seed: int = 0,
    profile: str = "sample", num_dev: int | None = None,
) -> dict[str, list[Document]]:
    """The corpus as documents per split, without writing files.

    ``profile="sample"`` (default): the small sample, ``train`` (160) and ``test`` (40).
    ``profile="real"``: shaped like LitCoin/BioRED (module docstring), ``train`` / ``dev`` /
    ``test`` of 400 / 100 / 100 abstracts. ``num_*`` override a profile's split sizes; a split of
    0 documents is left out (the sample has no ``dev`` unless ``num_dev`` is given).
    """
    if profile not in PROFILES:
        raise ValueError(f"profile={profile!r}: expected one of {', '.join(PROFILES)}")
    sizes = dict(SPLIT_SIZES[profile])
    for split, n in (("train", num_train), ("dev", num_dev), ("test", num_test)):
        if n is not None:
            sizes[split] = n
    rng = random.Random(seed)
    pools = _Pools.build()
    used: set[str] = set()
    out = {}
    for split in ("train", "dev", "test"):
        if sizes[split] or split != "dev":
            make = partial(_real_document, split=split) if profile == "real" else _document
            out[split] = _split_documents(rng, pools, sizes[split], used, make)
    return out


def generate_litcoin_sample(
    out_dir: str | Path, *, num_train: int | None = None, num_test: int | None = None,
    seed: int = 0, profile: str = "sample", num_dev: int | None = None,
) -> list[Path]:
    """Write ``{abstracts,entities,relations}_<split>.csv`` to ``out_dir``; returns paths.

    The test split has relations too (unlike the real one) so that predictions can be scored.
    ``profile`` and the split sizes: see :func:`generate_litcoin_documents`.
    """
    docs = generate_litcoin_documents(num_train=num_train, num_test=num_test, seed=seed,
                                      profile=profile, num_dev=num_dev)
    paths: list[Path] = []
    for split, split_docs in docs.items():
        paths += write_litcoin(split_docs, out_dir, split)
    return paths


def tokenizer_corpus() -> list[str]:
    """Text the relext tokenizers are trained on: a generated LitCoin-format sample."""
    from socio_re.tasks.relext.data.readers import read_corpus

    with tempfile.TemporaryDirectory() as tmp:
        generate_litcoin_sample(tmp, seed=1234)
        docs = [d for split in read_corpus(tmp).values() for d in split]
    return [d.text for d in docs] + [" ".join(str(i) for i in range(0, 1001))]
