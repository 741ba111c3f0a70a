"""Ask a trained model for a prediction, as its task defines one.

    python -m socio_re.cli.predict outputs/socrates/runs/<run> \
        --profile "Age: 34; Gender: Female; Ideology: Liberal" \
        --stimulus "How much do you support ...? Only return an integer from 1 to 7, nothing else."

Reads the run's ``config.yaml`` and runs its task's predict command (``TaskSpec.predict_hook``;
socrates: without --profile/--stimulus it asks on the terminal, one question after another,
until an empty profile; --samples N also draws N sampled answers).
"""

from __future__ import annotations

from socio_re.cli.task_command import main_for


def main(argv: list[str] | None = None) -> None:
    main_for("predict", "Ask a trained run's model for predictions.", argv)


if __name__ == "__main__":
    main()
