"""Thin plugin classes: ``launch`` runs the sweep (socio_re/sweeps/launcher.py), ``__call__`` is
what each submitted job runs (socio_re/sweeps/job.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher

if TYPE_CHECKING:
    from socio_re.sweeps.job import JobInfo


class _SweepLauncher(BaseSubmititLauncher):
    def __call__(self, sweep_overrides, job_dir_key, job_num, job_id, singleton_state,
                 job_info: JobInfo):
        from socio_re.sweeps.job import run_sweep_job

        return run_sweep_job(self, list(sweep_overrides), job_dir_key, job_num,
                             singleton_state, job_info)

    def launch(self, job_overrides, initial_job_idx):
        from socio_re.sweeps.launcher import launch_sweep

        return launch_sweep(self, job_overrides, initial_job_idx)


class LocalSweepLauncher(_SweepLauncher):
    _EXECUTOR = "local"


class SlurmSweepLauncher(_SweepLauncher):
    _EXECUTOR = "slurm"
