"""Small file helpers shared by the run directory's readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json_or_none(path: Path) -> Any | None:
    """The parsed JSON file, or None when it is missing or unreadable (a run that never got
    that far, or a file cut short by a kill)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
