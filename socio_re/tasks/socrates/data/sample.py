"""A small synthetic SocSci210 look-alike, for offline tests and smoke runs.

The files have the hub's exact schema and shard names, so every code path that reads the real
data (loader, validator, splits, prompt formatting) runs unchanged on them. The responses are not
noise: a hidden model makes them depend on the respondent's profile (ideology, age, education)
and on the experimental condition, so a model that reads the prompt can learn something real and
a training run shows a measurable gain over a per-cell mean.

Next to the shards it writes the dataset's ``metadata/`` split files in the layout the official
split reads (``socio_re.tasks.socrates.data.splits``), so ``data.split.kind=official`` runs
offline too.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from scipy.special import ndtr

from socio_re.tasks.socrates.data.load import METADATA_DIR
from socio_re.tasks.socrates.data.schema import (
    CONDITION_NUM,
    DEMOGRAPHIC_FIELDS,
    DEMOGRAPHIC_LABELS,
    SAMPLE_ID,
    SCHEMA,
    STUDY_ID,
    TASK_NUM,
    answer_format_sentence,
)
from socio_re.tasks.socrates.data.splits import OFFICIAL_FILES

# --- Vocabulary (sample_vocabulary.yaml: demographic values and shares, study templates) -----

VOCABULARY_FILE = Path(__file__).with_name("sample_vocabulary.yaml")
_VOCAB = yaml.safe_load(VOCABULARY_FILE.read_text())
_D = _VOCAB["demographics"]
GENDERS = tuple(_D["genders"])
EDUCATION, EDUCATION_P = tuple(_D["education"]), tuple(_D["education_p"])
ETHNICITY, ETHNICITY_P = tuple(_D["ethnicity"]), tuple(_D["ethnicity_p"])
INCOME = tuple(_D["income"])
PARTY_ID = tuple(_D["party_id"])
IDEOLOGY = tuple(_D["ideology"])
EMPLOYMENT_WORKING = tuple(_D["employment_working"])
EMPLOYMENT_OTHER = tuple(_D["employment_other"])
EMPLOYMENT_RETIRED = _D["employment_retired"]
STATES = tuple(_D["states"])
MARITAL, MARITAL_P = tuple(_D["marital"]), tuple(_D["marital_p"])
HOUSING_OWNERSHIP = tuple(_D["housing_ownership"])
HOUSING_TYPE, HOUSING_TYPE_P = tuple(_D["housing_type"]), tuple(_D["housing_type_p"])
METRO = tuple(_D["metro"])
INTERNET = tuple(_D["internet"])
PHONE, PHONE_P = tuple(_D["phone"]), tuple(_D["phone_p"])
# Fields that some studies do not collect (the real data leaves them null for those studies).
OPTIONAL_FIELDS = tuple(_D["optional_fields"])

# --- Study templates ------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """A study template: vignette, one framing sentence per condition, one question per task.

    ``valence`` is the direction in which conservatives answer higher (+1) or lower (-1);
    ``framing`` is, per condition, the direction its wording pushes answers (+1 up: a benefit,
    an endorsement; -1 down: a cost, an opponent; 0 neutral). The hidden model applies both the
    same way in every study of the topic, so what is learnt on one study carries to another.
    """

    vignette: str
    conditions: tuple[str, ...]
    tasks: tuple[str, ...]
    valence: int
    framing: tuple[int, ...]


def _topic(entry: dict) -> Topic:
    return Topic(entry["vignette"], tuple(entry["conditions"]), tuple(entry["tasks"]),
                 int(entry["valence"]), tuple(int(f) for f in entry["framing"]))


TOPICS: tuple[Topic, ...] = tuple(_topic(t) for t in _VOCAB["topics"])
# The dollar-amount study: willingness to give or pay, in dollars.
DOLLAR_TOPIC = _topic(_VOCAB["dollar_topic"])


@dataclass(frozen=True)
class AnswerScale:
    """How one question is answered: the codes ``low..high`` and the text that states them.

    ``form`` picks the closing answer-format sentence, as SocSci210 words it:

    - ``range``: "Only return an integer from 1 to 7, nothing else." (most questions);
    - ``listed``: "Only return 1, 2, or 3, nothing else.";
    - ``labelled``: "Only return 1 for No or 2 for Yes, nothing else." (two labels) or
      "Only return 1 for 'A'; 2 for 'B'; or 3 for 'C', nothing else." (more), one label per
      code in ``labels``;
    - ``open``: "Only return an integer representing dollars, nothing else.": no range is
      stated (``low..high`` only bounds the hidden model's answers).

    ``anchors`` describes the scale in parentheses after the question ("" for none).
    """

    low: int
    high: int
    anchors: str = ""
    form: str = "range"
    labels: tuple[str, ...] = ()


# Answer scales of the non-dollar studies, drawn in equal shares: 7 of 10 keep the range form
# "Only return an integer from X to Y", the rest are the enumerated forms of the real data.
SCALES: tuple[AnswerScale, ...] = (
    AnswerScale(1, 5, "1 = Not at all, 5 = Extremely"),
    AnswerScale(1, 7, "1 = Strongly disagree / very low, 7 = Strongly agree / very high"),
    AnswerScale(0, 10, "0 = Not at all, 10 = Completely"),
    AnswerScale(0, 100, "0 = Very cold / not at all, 100 = Very warm / completely"),
    AnswerScale(1, 5, "1 = Not at all, 5 = Extremely"),
    AnswerScale(1, 7, "1 = Strongly disagree / very low, 7 = Strongly agree / very high"),
    AnswerScale(1, 7, "1 = Strongly disagree / very low, 7 = Strongly agree / very high"),
    AnswerScale(1, 2, form="labelled", labels=("No", "Yes")),
    AnswerScale(1, 3, "1 = Less than now, 2 = About the same, 3 = More than now", form="listed"),
    AnswerScale(1, 4, form="labelled", labels=("Strongly oppose", "Somewhat oppose",
                                               "Somewhat support", "Strongly support")),
)
# The dollar study: its first question (out of a $5,000 bonus) states the range, the others
# ask for an open-ended amount, as real willingness-to-pay items do.
DOLLAR_SCALE = AnswerScale(0, 5000, "Enter a whole number of dollars from 0 to 5000")
OPEN_DOLLAR_SCALE = AnswerScale(0, 5000, "Enter a whole number of dollars", form="open")
OPEN_DOLLARS_SENTENCE = "Only return an integer representing dollars, nothing else."


def answer_instruction(scale: AnswerScale) -> str:
    """The closing answer-format sentence of a stimulus (see :class:`AnswerScale`)."""
    codes = [str(c) for c in range(scale.low, scale.high + 1)]
    if scale.form == "listed":
        return f"Only return {', '.join(codes[:-1])}, or {codes[-1]}, nothing else."
    if scale.form == "labelled" and len(scale.labels) == 2:
        (a, b), (x, y) = codes, scale.labels
        return f"Only return {a} for {x} or {b} for {y}, nothing else."
    if scale.form == "labelled":
        options = [f"{c} for '{label}'" for c, label in zip(codes, scale.labels, strict=True)]
        return f"Only return {'; '.join(options[:-1])}; or {options[-1]}, nothing else."
    if scale.form == "open":
        return OPEN_DOLLARS_SENTENCE
    return answer_format_sentence(scale.low, scale.high)


INTRO_LINE = "You are taking part in a social science survey. Your demographic profile is:"
INSTRUCTION = "Answer the following question as this person would, based on the profile above."


@dataclass(frozen=True)
class HiddenModel:
    """The hidden model's effect sizes, on the latent scale (``_to_scale`` maps a latent ``z``
    to the answer ``low + ndtr(z / spread) * (high - low)``, rounded).

    Like real survey data, the structure is shared across studies, so that a model trained on
    some studies can predict others: answers lean to the upper half of a scale (acquiescence;
    ``intercept_mean``), condition wording moves answers the same way in every study of a
    topic (``framing_effect`` times the topic's ``framing``), ideology moves them in the
    topic's direction (``valence`` times ``ideology_slope``), older and more educated people
    answer a little lower and higher everywhere. Each study adds a smaller effect of its own
    (the ``*_sd`` terms), and people differ (``person_sd``, ``noise_sd``).
    """

    intercept_mean: float = 0.7
    intercept_sd: float = 0.25
    framing_effect: float = 0.6
    study_condition_sd: float = 0.15
    interaction_sd: float = 0.1
    ideology_slope: tuple[float, float] = (0.7, 0.9)  # per task, uniform in this range
    age_slope: float = -0.15
    education_slope: float = 0.15
    study_slope_sd: float = 0.05
    person_sd: float = 0.2
    noise_sd: float = 0.4
    spread: float = 1.0


HIDDEN = HiddenModel()


@dataclass
class StudySpec:
    """Everything the hidden model and the text templates need for one study."""

    study_id: str
    topic: Topic
    low: int  # the bounds of the hidden model's answers, the same for every task
    high: int
    scales: tuple[AnswerScale, ...]  # [task]: how each question states its answer format
    n_conditions: int
    n_tasks: int
    within_subject: bool
    null_fields: frozenset[str]
    intercept: np.ndarray  # [task]
    condition_effect: np.ndarray  # [condition, task]
    ideology_slope: np.ndarray  # [task]
    age_slope: np.ndarray  # [task]
    education_slope: np.ndarray  # [task]
    interaction: np.ndarray  # [condition, task]: condition x ideology


def _study_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Unique 5-character codes like "T0A3F" (a letter and four hex digits)."""
    ids: list[str] = []
    hexdigits = np.array(list("0123456789ABCDEF"))
    while len(ids) < n:
        code = str(rng.choice(list("TSWX"))) + "".join(rng.choice(hexdigits, size=4))
        if code not in ids:
            ids.append(code)
    return ids


def _make_studies(rng: np.random.Generator, num_studies: int) -> list[StudySpec]:
    """Draw the design and the hidden effects of every study."""
    ids = _study_ids(rng, num_studies)
    topic_order = rng.permutation(len(TOPICS))
    has_dollar = num_studies >= 2
    # Every scale of SCALES once before any repeats, so that a sample with at least
    # len(SCALES) + 1 studies shows every answer format.
    scale_order = iter(rng.permutation(
        np.resize(np.arange(len(SCALES)), num_studies - has_dollar)).tolist())
    # Study 1 is the dollar study, study 0 is always within-subject and study 2 between-subject,
    # so that even small samples show every design.
    studies = []
    for i, study_id in enumerate(ids):
        is_dollar = i == 1 and has_dollar
        topic = DOLLAR_TOPIC if is_dollar else TOPICS[topic_order[i % len(TOPICS)]]
        within = True if i == 0 else False if i == 2 else bool(rng.random() < 0.45)
        n_cond = int(rng.integers(1, min(4, len(topic.conditions)) + 1))
        n_cond = max(n_cond, 2) if within else n_cond
        n_tasks = min(int(rng.choice([1, 2, 3], p=[0.2, 0.4, 0.4])), len(topic.tasks))
        if is_dollar:
            n_tasks = max(n_tasks, 2)  # the bounded question and at least one open-ended one
            scales = (DOLLAR_SCALE, *[OPEN_DOLLAR_SCALE] * (n_tasks - 1))
        else:
            scales = (SCALES[next(scale_order)],) * n_tasks
        null_fields: frozenset[str] = frozenset()
        if rng.random() < 0.5:
            k = int(rng.integers(1, 6))
            null_fields = frozenset(rng.choice(OPTIONAL_FIELDS, size=k, replace=False).tolist())
        h = HIDDEN
        framing = np.asarray(topic.framing[:n_cond], dtype=float)[:, None]
        condition_effect = (h.framing_effect * framing
                            + rng.normal(0.0, h.study_condition_sd, size=(n_cond, n_tasks)))
        interaction = rng.normal(0.0, h.interaction_sd, size=(n_cond, n_tasks))
        interaction[0] = 0.0
        studies.append(
            StudySpec(
                study_id=study_id,
                topic=topic,
                low=scales[0].low,
                high=scales[0].high,
                scales=scales,
                n_conditions=n_cond,
                n_tasks=n_tasks,
                within_subject=within,
                null_fields=null_fields,
                intercept=rng.normal(h.intercept_mean, h.intercept_sd, size=n_tasks),
                condition_effect=condition_effect,
                ideology_slope=topic.valence * rng.uniform(*h.ideology_slope, size=n_tasks),
                age_slope=h.age_slope + rng.normal(0.0, h.study_slope_sd, size=n_tasks),
                education_slope=h.education_slope
                + rng.normal(0.0, h.study_slope_sd, size=n_tasks),
                interaction=interaction,
            )
        )
    return studies


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int, p=None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)]


def _profiles(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Correlated demographic draws for ``n`` people, plus the latent indices the model uses."""
    lean = rng.normal(0.0, 1.0, n)  # latent left-right position
    ideology_idx = np.clip(np.rint(3 + 1.3 * lean + rng.normal(0, 0.6, n)), 0, 6).astype(int)
    party_idx = np.clip(np.rint(3 + 1.6 * lean + rng.normal(0, 0.9, n)), 0, 6).astype(int)
    age = np.clip(np.rint(rng.normal(48, 17, n)), 18, 90).astype(int)
    edu_idx = rng.choice(len(EDUCATION), size=n, p=EDUCATION_P)
    income_idx = np.clip(np.rint(1.2 * edu_idx + rng.normal(1.5, 1.5, n)), 0, 6).astype(int)
    employment = np.where(
        rng.random(n) < 0.65, _pick(rng, EMPLOYMENT_WORKING, n), _pick(rng, EMPLOYMENT_OTHER, n)
    )
    employment = np.where((age >= 65) & (rng.random(n) < 0.75), EMPLOYMENT_RETIRED, employment)
    household = np.clip(rng.poisson(1.6, n) + 1, 1, 8)
    return {
        "_ideology_idx": ideology_idx,
        "_education_idx": edu_idx,
        "age": age,
        "gender": _pick(rng, GENDERS, n, p=(0.48, 0.52)),
        "education": np.asarray(EDUCATION, dtype=object)[edu_idx],
        "employment": employment,
        "ethnicity": _pick(rng, ETHNICITY, n, p=ETHNICITY_P),
        "income": np.asarray(INCOME, dtype=object)[income_idx],
        "party_id": np.asarray(PARTY_ID, dtype=object)[party_idx],
        "ideology": np.asarray(IDEOLOGY, dtype=object)[ideology_idx],
        "location": _pick(rng, STATES, n),
        "marital_status": _pick(rng, MARITAL, n, p=MARITAL_P),
        "household_size": household,
        "housing_ownership": _pick(rng, HOUSING_OWNERSHIP, n, p=(0.64, 0.33, 0.03)),
        "housing_type": _pick(rng, HOUSING_TYPE, n, p=HOUSING_TYPE_P),
        "metro_status": _pick(rng, METRO, n, p=(0.86, 0.14)),
        "internet_access": _pick(rng, INTERNET, n, p=(0.93, 0.07)),
        "phone_service": _pick(rng, PHONE, n, p=PHONE_P),
    }


def _demographic_dicts(
    profiles: dict[str, np.ndarray], null_fields: frozenset[str], rng: np.random.Generator
) -> list[dict]:
    """One struct value per person; fields the study did not collect are null."""
    n = len(profiles["age"])
    refused_income = rng.random(n) < 0.04  # a few people decline to state their income
    people = []
    for i in range(n):
        person: dict[str, object] = {}
        for field in DEMOGRAPHIC_FIELDS:
            value = profiles[field][i]
            if field in null_fields or (field == "income" and refused_income[i]):
                person[field] = None
            else:
                person[field] = int(value) if isinstance(value, np.integer) else str(value)
        people.append(person)
    return people


def _to_scale(z: np.ndarray, low: int, high: int, *, dollars: bool) -> np.ndarray:
    """Map a latent score onto the study's integer scale."""
    p = ndtr(z / HIDDEN.spread)
    if high - low == 1:
        return np.where(z > 0, high, low)
    if dollars:
        # Skewed like real giving: many small amounts, a few large ones, heaped at tens.
        return np.clip(np.rint(high * p**2.5 / 10) * 10, low, high).astype(int)
    return np.clip(np.rint(low + p * (high - low)), low, high).astype(int)


def _stimulus(spec: StudySpec, condition: int, task: int) -> str:
    topic, scale = spec.topic, spec.scales[task]
    anchors = f" ({scale.anchors})" if scale.anchors else ""
    return (
        f"{topic.vignette} {topic.conditions[condition]}\n\n"
        f"{topic.tasks[task]}{anchors}\n\n"
        f"{answer_instruction(scale)}"
    )


def _prompt(person: dict, stimulus: str) -> str:
    bullets = "\n".join(
        f"- {DEMOGRAPHIC_LABELS[field]}: {person[field]}"
        for field in DEMOGRAPHIC_FIELDS
        if person[field] is not None
    )
    return f"{INTRO_LINE}\n{bullets}\n\n{INSTRUCTION}\n\n{stimulus}"


def _reasoning(person: dict, response: int, spec: StudySpec) -> str:
    """A short rationale that cites profile cues, like the hub's synthetic rationales."""
    midpoint = (spec.low + spec.high) / 2
    lean = "leans toward the higher end" if response > midpoint else "leans toward the lower end"
    cues = f"a {person['age']}-year-old {person['ideology'].lower()} respondent"
    cues += f" who identifies as {person['party_id']} and has {person['education'].lower()}"
    return f"As {cues}, this person {lean} of the scale, so the answer is {response}."


def _study_rows(spec: StudySpec, rng: np.random.Generator, n_people: int) -> dict[str, list]:
    """All rows of one study, in (participant, task, condition) order."""
    prof = _profiles(rng, n_people)
    people = _demographic_dicts(prof, spec.null_fields, rng)
    ideo = (prof["_ideology_idx"] - 3) / 1.5
    age = (prof["age"] - 48) / 17
    edu = (prof["_education_idx"] - 2) / 1.2
    person_effect = rng.normal(0.0, HIDDEN.person_sd, n_people)

    # Design: within-subject people see every condition, between-subject people one.
    part, cond, task = [], [], []
    between_cond = rng.integers(0, spec.n_conditions, size=n_people)
    for p in range(n_people):
        conds = range(spec.n_conditions) if spec.within_subject else [between_cond[p]]
        for t in range(spec.n_tasks):
            for c in conds:
                part.append(p)
                cond.append(int(c))
                task.append(t)
    part_a, cond_a, task_a = np.array(part), np.array(cond), np.array(task)

    z = (
        spec.intercept[task_a]
        + spec.condition_effect[cond_a, task_a]
        + (spec.ideology_slope[task_a] + spec.interaction[cond_a, task_a]) * ideo[part_a]
        + spec.age_slope[task_a] * age[part_a]
        + spec.education_slope[task_a] * edu[part_a]
        + person_effect[part_a]
        + rng.normal(0.0, HIDDEN.noise_sd, len(part_a))
    )
    response = _to_scale(z, spec.low, spec.high, dollars=spec.topic is DOLLAR_TOPIC)

    rows: dict[str, list] = {k: [] for k in SCHEMA.names}
    for p, c, t, r in zip(part, cond, task, response.tolist(), strict=True):
        stimulus = _stimulus(spec, c, t)
        rows["participant"].append(p)
        rows["demographic"].append(people[p])
        rows["stimuli"].append(stimulus)
        rows["prompt"].append(_prompt(people[p], stimulus))
        rows["reasoning"].append(_reasoning(people[p], r, spec))
        rows["response"].append(r)
        rows["condition_num"].append(c)
        rows["task_num"].append(t)
        rows["study_id"].append(spec.study_id)
    return rows


# --- the dataset's own split files (metadata/) -----------------------------------------------

# The paper's shares: 170 of 210 studies seen (about 80/20), and 75/25 train/eval by task and by
# condition.
UNSEEN_STUDY_SHARE = 0.2
EVAL_SAMPLE_SHARE = 0.25
# The split files draw from their own random stream, so that writing them leaves the rows that
# a seed gives exactly as they were.
_SPLIT_FILES_STREAM = 210


def _unseen_studies(studies: list[str], rng: np.random.Generator) -> set[str]:
    """``UNSEEN_STUDY_SHARE`` of the studies, rounded half up, at least one and never all
    (none of a single study), picked by ``rng``."""
    n = len(studies)
    k = min(max(1, int(np.floor(UNSEEN_STUDY_SHARE * n + 0.5))), n - 1)
    return {studies[i] for i in rng.permutation(n)[:k]}


def _eval_rows(study: np.ndarray, group: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which rows are ``eval`` when whole (study, group) cells are held out: the cells, in an
    order drawn by ``rng``, are taken while each brings the eval rows closer to
    ``EVAL_SAMPLE_SHARE`` of all rows, skipping a cell that would leave its study without a
    training cell."""
    sizes = Counter(zip(study.tolist(), group.tolist(), strict=True))
    cells = sorted(sizes)  # a canonical order for the draw
    train_cells_left = Counter(s for s, _ in cells)
    target, taken, held = EVAL_SAMPLE_SHARE * len(study), 0, set()
    for i in rng.permutation(len(cells)):
        cell = cells[i]
        if train_cells_left[cell[0]] >= 2 and taken + sizes[cell] / 2 < target:
            held.add(cell)
            train_cells_left[cell[0]] -= 1
            taken += sizes[cell]
    return np.fromiter(((s, g) in held for s, g in zip(study.tolist(), group.tolist(),
                                                      strict=True)), dtype=bool, count=len(study))


def split_files(columns: dict[str, list], seed: int) -> dict[str, dict[str, list]]:
    """The content of ``metadata/<file>`` for these rows, by file name, in the layouts the
    official split reads, with the paper's shares:

    - ``participant_mapping.json``: ``{"seen": [...], "unseen": [...]}`` study ids; 20% of the
      studies (rounded half up, at least one, never all) are unseen;
    - ``task_mapping.json`` / ``condition_mapping.json``: ``{"train": [...], "eval": [...]}``
      sample ids, 75/25 by whole task (condition) of a study: the (study, task) cells are
      visited in a seeded order and each goes to ``eval`` if that brings ``eval`` closer to 25%
      of the rows and its study keeps another task for ``train``. So a task (condition) is
      entirely on one side, every study keeps training rows, single-task (single-condition)
      studies stay in ``train``, and ``eval`` holds 25% of the sample ids give or take half a
      cell.

    The picks come from a random stream of their own, seeded by ``seed``; lists are sorted.
    """
    rng = np.random.default_rng([seed, _SPLIT_FILES_STREAM])
    study = np.asarray(columns[STUDY_ID], dtype=object)
    sample = np.asarray(columns[SAMPLE_ID], dtype=np.int64)
    studies = sorted(set(columns[STUDY_ID]))
    unseen = _unseen_studies(studies, rng)
    files = {OFFICIAL_FILES["studies"]: {"seen": sorted(set(studies) - unseen),
                                         "unseen": sorted(unseen)}}
    for which, column in (("tasks", TASK_NUM), ("conditions", CONDITION_NUM)):
        on_eval = _eval_rows(study, np.asarray(columns[column], dtype=np.int64), rng)
        files[OFFICIAL_FILES[which]] = {"train": sample[~on_eval].tolist(),
                                        "eval": sample[on_eval].tolist()}
    return files


def _write_split_files(out: Path, columns: dict[str, list], seed: int) -> None:
    folder = out / METADATA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in split_files(columns, seed).items():
        (folder / name).write_text(json.dumps(content) + "\n")


def _clear_old_shards(out_dir: Path) -> None:
    """Remove shards from an earlier run, which the loader would otherwise read as well."""
    for old in out_dir.glob("train-*-of-*.parquet"):
        old.unlink()


def generate_sample(
    out_dir: str | Path,
    *,
    num_studies: int = 12,
    participants_per_study: int = 80,
    seed: int = 0,
    num_shards: int = 2,
) -> list[Path]:
    """Write a synthetic SocSci210-style dataset as ``train-0000i-of-0000n.parquet`` shards,
    and its split files ``metadata/{participant,task,condition}_mapping.json`` (see
    :func:`split_files`).

    The same seed gives the same rows and split files. Earlier ``train-*-of-*.parquet`` files in
    ``out_dir`` are removed first (the split files are overwritten) so that the directory holds
    exactly one dataset. Returns the shard paths.
    """
    if num_studies < 1 or participants_per_study < 1 or num_shards < 1:
        raise ValueError("num_studies, participants_per_study and num_shards must be >= 1")
    rng = np.random.default_rng(seed)
    columns: dict[str, list] = {k: [] for k in SCHEMA.names}
    for spec in _make_studies(rng, num_studies):
        for key, values in _study_rows(spec, rng, participants_per_study).items():
            columns[key].extend(values)
    columns["sample_id"] = list(range(len(columns["study_id"])))
    table = pa.Table.from_pydict(columns, schema=SCHEMA)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_old_shards(out)
    paths = []
    bounds = np.linspace(0, table.num_rows, num_shards + 1).astype(int)
    for i in range(num_shards):
        path = out / f"train-{i:05d}-of-{num_shards:05d}.parquet"
        pq.write_table(table.slice(bounds[i], bounds[i + 1] - bounds[i]), path)
        paths.append(path)
    _write_split_files(out, columns, seed)
    return paths


def generate_full_scale(
    out_dir: str | Path,
    *,
    rows: int = 2_900_000,
    num_studies: int = 210,
    seed: int = 0,
    shard_rows: int = 250_000,
) -> list[Path]:
    """SocSci210 at full size (2.9M responses over 210 studies by default), in the same schema
    and shard naming as :func:`generate_sample`, written shard by shard so memory stays bounded
    by one shard. Participants per study are chosen so every study has about
    ``rows / num_studies`` responses whatever its design."""
    if rows < num_studies or num_studies < 1 or shard_rows < 1:
        raise ValueError("need rows >= num_studies >= 1 and shard_rows >= 1")
    rng = np.random.default_rng(seed)
    specs = _make_studies(rng, num_studies)
    per_study = rows / num_studies
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_old_shards(out)
    buffer: dict[str, list] = {k: [] for k in SCHEMA.names}
    written: list[Path] = []
    next_id = 0

    def flush() -> None:
        nonlocal buffer
        n = len(buffer["study_id"])
        if not n:
            return
        path = out / f"train-{len(written):05d}-of-NNNNN.parquet"
        pq.write_table(pa.Table.from_pydict(buffer, schema=SCHEMA), path)
        written.append(path)
        buffer = {k: [] for k in SCHEMA.names}

    for spec in specs:
        per_person = spec.n_tasks * (spec.n_conditions if spec.within_subject else 1)
        study = _study_rows(spec, rng, max(1, round(per_study / per_person)))
        n = len(study["study_id"])
        study["sample_id"] = list(range(next_id, next_id + n))
        next_id += n
        for key, values in study.items():
            buffer[key].extend(values)
        if len(buffer["study_id"]) >= shard_rows:
            flush()
    flush()
    # The shard count is known only now: name them as the hub does, train-0000i-of-0000n.
    final = []
    for i, path in enumerate(written):
        target = out / f"train-{i:05d}-of-{len(written):05d}.parquet"
        path.rename(target)
        final.append(target)
    return final


def tokenizer_corpus() -> list[str]:
    """Text the tiny causal tokenizer is trained on: a generated SocSci-style sample."""
    from socio_re.tasks.socrates.data.load import load_socsci
    from socio_re.tasks.socrates.data.schema import SYSTEM_PROMPT

    with tempfile.TemporaryDirectory() as tmp:
        generate_sample(tmp, seed=1234)
        df = load_socsci(tmp)
    texts = [SYSTEM_PROMPT, *df["prompt"].tolist(), *df["reasoning"].dropna().tolist()]
    # Numbers in every form an answer can take, so digits and signs are well covered.
    texts += [" ".join(str(i) for i in range(0, 1001))]
    return texts
