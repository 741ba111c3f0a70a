"""``python -m socio_re.cli.slurm_script [overrides...]``: print the sbatch script, submit nothing.

Takes the overrides ``python train.py -m ...`` would get and composes ``conf/train.yaml`` the same
way, on ``hydra/launcher=slurm`` unless another launcher is given, e.g.::

    python -m socio_re.cli.slurm_script hydra/launcher=slurm_h100 hydra.launcher.nodes=2 \\
        hydra.launcher.account=proj123 strategy=zero3 > job.sbatch

A sweep (``seed=1,2,3,4,5``) is one job array: the script of its first point, with
``#SBATCH --array=0-4%N`` (N: ``sweep.max_parallel``, else ``hydra.launcher.array_parallelism``).
"""

from __future__ import annotations

import os
import sys

from socio_re.cli.errors import run_reporting_user_errors


def print_script(argv: list[str]) -> None:
    from socio_re.launch.slurm import compose_sweep, render_sbatch

    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return
    cfg, jobs = compose_sweep(argv)
    script = render_sbatch(cfg, jobs=jobs)
    print(script)
    # To stderr, so `> job.sbatch` keeps only the script.
    print("# not submitted: `python train.py -m hydra/launcher=... <same overrides>` submits it",
          file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    # Composition errors reach us as exceptions, so each becomes one line and exit code 2.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    run_reporting_user_errors(lambda: print_script(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
