"""Evaluate a trained run (or any checkpoint) without training, as its task scores it.

    python -m socio_re.cli.evaluate outputs/socrates/runs/<run>
    python -m socio_re.cli.evaluate outputs/socrates/runs/<run> --checkpoint <dir> --decoding sample

Reads the run's frozen ``config.yaml`` (so data, split and formatting are exactly the run's)
and runs its task's evaluate command (``TaskSpec.evaluate_hook``; socrates: scores the chosen
split into ``<run>/eval/<name>/``).
"""

from __future__ import annotations

from socio_re.cli.task_command import main_for


def main(argv: list[str] | None = None) -> None:
    main_for("evaluate", "Score a trained run's model without training.", argv)


if __name__ == "__main__":
    main()
