"""Where the compared runs differ in provenance: package versions, git commit, data and model
digests, platform, seeds (the ``provenance.*`` tags, :mod:`socio_re.tracking.provenance`).

Two runs whose metrics differ for a reason the config does not show (another torch, a dirty
tree, edited data files, another GPU) are told apart here: one line per field that differs,
each value with the runs that had it; nothing when all agree. The digests of the splits a run
trained on follow from its config (fold 0 trains on other files than fold 1), so they are
compared only between runs with the same config, where a difference means the same settings
read different data. Runs logged before provenance was recorded are left out of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from socio_re.tracking.compare_columns import NAME_CHARS, is_noise_param, shorten, shorten_column
from socio_re.tracking.provenance import TAG_PREFIX

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run

# Follow from the config: compared only between runs with the same params.
CONFIG_DERIVED = ("data.splits.",)
# The order fields are listed in: what most often explains a difference first.
SECTION_ORDER = ("git", "data", "model", "versions", "platform", "seeds")
MISSING = "-"
VALUE_CHARS = 40  # a longer value (an OS string) is shortened in the middle
NAMES_PER_VALUE = 3  # runs named per value, then "+N more"


@dataclass
class ProvenanceDifference:
    """One field and its values, each with the names of the runs that had it (in the order
    the runs were given: best first)."""

    field: str
    values: dict[str, list[str]]


def run_provenance(run: Run) -> dict[str, str]:
    """The run's provenance fields (``versions.torch``: ``2.13.0``); empty for a run logged
    before provenance existed."""
    return {k.removeprefix(TAG_PREFIX): v for k, v in run.data.tags.items()
            if k.startswith(TAG_PREFIX)}


def _config_key(run: Run) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in run.data.params.items() if not is_noise_param(k)))


def _order(field: str) -> tuple[int, str]:
    section = field.split(".", 1)[0]
    rank = SECTION_ORDER.index(section) if section in SECTION_ORDER else len(SECTION_ORDER)
    return rank, field


def _run_name(run: Run) -> str:
    return run.info.run_name or run.info.run_id[:8]


def _groups(recorded: list[tuple[Run, dict[str, str]]], field: str
            ) -> list[list[tuple[Run, dict[str, str]]]]:
    """The runs among which ``field`` is compared: all, or per config for derived fields."""
    if not field.startswith(CONFIG_DERIVED):
        return [recorded]
    by_config: dict[tuple, list] = {}
    for item in recorded:
        by_config.setdefault(_config_key(item[0]), []).append(item)
    return list(by_config.values())


def provenance_differences(runs: Sequence[Run]) -> tuple[list[ProvenanceDifference], int]:
    """The fields whose values differ between the runs, and how many runs had no provenance
    to compare."""
    recorded = [(r, p) for r in runs if (p := run_provenance(r))]
    fields = sorted({k for _, p in recorded for k in p}, key=_order)
    found = []
    for field in fields:
        for group in _groups(recorded, field):
            values: dict[str, list[str]] = {}
            for run, prov in group:
                values.setdefault(prov.get(field, MISSING), []).append(_run_name(run))
            if len(values) > 1:
                found.append(ProvenanceDifference(field, values))
    return found, len(runs) - len(recorded)


def _names(names: list[str], short: dict[str, str]) -> str:
    shown = ", ".join(short[n] for n in names[:NAMES_PER_VALUE])
    return shown + (f" +{len(names) - NAMES_PER_VALUE} more" if len(names) > NAMES_PER_VALUE
                    else "")


def provenance_lines(differences: Sequence[ProvenanceDifference], without: int = 0
                     ) -> list[str]:
    """``runs differ in provenance:`` then ``  versions.torch: 2.13.0 (a, b) vs 2.12.0 (c)``
    per field; nothing when they all agree."""
    if not differences:
        return []
    note = f" ({without} run(s) logged without provenance not compared)" if without else ""
    lines = [f"runs differ in provenance{note}:"]
    # Run names shortened as the table's run column shortens them (and as distinct).
    everyone = list(dict.fromkeys(n for d in differences for names in d.values.values()
                                  for n in names))
    short = dict(zip(everyone, shorten_column(everyone, NAME_CHARS), strict=True))
    for d in differences:
        cells = [f"{shorten(value, VALUE_CHARS)} ({_names(names, short)})"
                 for value, names in d.values.items()]
        lines.append(f"  {d.field}: " + " vs ".join(cells))
    return lines


def with_provenance_columns(frame: pd.DataFrame, runs: Sequence[Run],
                            differences: Sequence[ProvenanceDifference]) -> pd.DataFrame:
    """``frame`` (one row per run, by ``run_id``) plus a ``provenance.<field>`` column per
    differing field, for the CSV."""
    fields = list(dict.fromkeys(d.field for d in differences))
    if not fields or frame.empty:
        return frame
    by_id = {r.info.run_id: run_provenance(r) for r in runs}
    frame = frame.copy()
    for field in fields:
        frame[TAG_PREFIX + field] = [by_id.get(i, {}).get(field, MISSING)
                                     for i in frame["run_id"]]
    return frame
