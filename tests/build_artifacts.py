"""Build every cache entry the project makes offline into ``$SOCIO_RE_CACHE_DIR``, the way a
run's start-up builds them (``prepare_shared`` of each task): the tiny models and their
tokenizers, the generated samples, the prepared splits and the tokenized SFT sets.

Run as a script by ``tests/test_deterministic_builds.py`` in separate processes, so that two
builds differ in everything a process can (hash seed, thread counts) but the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# What a default run of each task, and the other offline models and sample profiles, build.
RUNS = [
    ["task=socrates"],
    ["task=socrates", "data.split.kind=official"],
    ["task=relext", "model=tiny-encoder"],
    ["task=relext", "model=tiny-decoder"],
    ["task=relext", "data=relext-realsize"],
]


def main() -> None:
    from conftest import compose

    from socio_re.config.tasks import get_task
    from socio_re.config.validate import validate_config

    for overrides in RUNS:
        rc = validate_config(compose(overrides))
        get_task(rc.task.name).run_module().prepare_shared(rc)


if __name__ == "__main__":
    main()
