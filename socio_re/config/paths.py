"""Where the Hydra configs live: one answer for every command.

The configs are the checkout's top-level ``conf/``; ``socio_re/conf`` links to it, and the wheel
carries the files themselves under ``socio_re/conf`` (package data), so an installed
``socio-re-train`` finds them outside any checkout.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
CONF_DIR = PACKAGE_DIR / "conf"
MODEL_CONF_DIR = CONF_DIR / "model"
