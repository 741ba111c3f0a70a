"""Run a command twice from empty caches and print what differs (metrics, model files,
predictions, the built caches): exit 0 identical, 1 different, 2 a usage error.

    python scripts/check_reproducible.py [--tolerance X] [--keep] -- python train.py task=relext

The logic (and what is compared, what is ignored and why) is socio_re/cli/check_reproducible.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Let the script run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from socio_re.cli.check_reproducible import main

if __name__ == "__main__":
    sys.exit(main())
