"""Thin plugin classes; see socio_re/sweeps/launcher.py for what they do."""

from __future__ import annotations

from typing import Any

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import BaseSubmititLauncher


class _SweepLauncher(BaseSubmititLauncher):
    def __call__(self, sweep_overrides, job_dir_key, job_num, job_id, singleton_state,
                 job_info: dict[str, Any] | None = None):
        from socio_re.sweeps.launcher import run_sweep_job

        return run_sweep_job(self, list(sweep_overrides), job_dir_key, job_num,
                             singleton_state, job_info or {})

    def launch(self, job_overrides, initial_job_idx):
        from socio_re.sweeps.launcher import launch_sweep

        return launch_sweep(self, job_overrides, initial_job_idx)


class LocalSweepLauncher(_SweepLauncher):
    _EXECUTOR = "local"


class SlurmSweepLauncher(_SweepLauncher):
    _EXECUTOR = "slurm"
