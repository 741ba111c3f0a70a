"""Read (and, for the offline sample, write) the sentiment jsonl files."""

from __future__ import annotations

import json
import random
from pathlib import Path

from socio_re.errors import DataError

from .config import LABELS

SPLITS = ("train", "val", "test")
POSITIVE = ("improved", "effective", "well tolerated", "reduced symptoms", "recovered")
NEGATIVE = ("worsened", "ineffective", "severe toxicity", "increased symptoms", "relapsed")
FILLER = ("the patients", "after treatment", "in the cohort", "over six months", "reportedly")


def write_sample(directory: Path, rows: int, seed: int = 0) -> None:
    """``rows`` generated rows per split: one cue phrase decides the label, the rest is noise.
    Deterministic for a seed (the same bytes every build)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        lines = []
        for _ in range(rows):
            label = rng.randrange(2)
            words = [*rng.sample(FILLER, 3), rng.choice(POSITIVE if label else NEGATIVE)]
            rng.shuffle(words)
            lines.append(json.dumps({"text": " ".join(words), "label": LABELS[label]}))
        (directory / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_split(directory: Path, split: str) -> list[tuple[str, int]]:
    """(text, label id) rows; a malformed row is named with its file and line."""
    path = directory / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(f"{path} does not exist; set data.path to a folder with "
                        f"{', '.join(s + '.jsonl' for s in SPLITS)}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append((str(row["text"]), LABELS.index(row["label"])))
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{path}:{number}: expected {{\"text\": ..., \"label\": "
                            f"{' or '.join(map(repr, LABELS))}}}, got {line[:60]!r}") from None
    return rows


def prepare(data_cfg) -> dict[str, list[tuple[str, int]]]:
    directory = Path(data_cfg.path)
    if data_cfg.generate_sample and not (directory / "test.jsonl").is_file():
        write_sample(directory, data_cfg.generate_sample)
    splits = {s: read_split(directory, s) for s in SPLITS}
    keep = max(1, int(len(splits["train"]) * data_cfg.subset))
    splits["train"] = splits["train"][:keep]
    return splits
