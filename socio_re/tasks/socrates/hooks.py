"""socrates' small hooks for the shared layers (provenance, tracking tags): cheap, no model."""

from __future__ import annotations

from typing import Any


def source_digest(rc: Any) -> str:
    """The data source's digest as the split cache keys it (local files by content, a hub
    dataset by id and revision): see ``data/load.py:dataset_fingerprint``."""
    from socio_re.tasks.socrates.data import dataset_fingerprint

    return dataset_fingerprint(str(rc.data.path), revision=getattr(rc.data, "revision", None))


def run_tags(rc: Any) -> dict[str, str]:
    """Which held-out split the run was scored on: compare shows it as a column, since
    numbers from different split kinds are not comparable."""
    return {"data.split": rc.data.split.kind}
