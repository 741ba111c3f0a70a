"""MLflow tags that place a run inside its sweep (and on its cluster job)."""

from __future__ import annotations

import os
from typing import Any


def sweep_tags(rc: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    s = rc.sweep
    if s.id:
        tags["sweep_id"] = s.id
    if s.parent_run_id:
        tags["mlflow.parentRunId"] = s.parent_run_id  # MLflow's UI nests the run under it
    if s.job_num is not None:
        tags["job_num"] = str(s.job_num)
    if s.job_overrides:
        tags["overrides"] = s.job_overrides
    if os.environ.get("SLURM_JOB_ID"):
        array = os.environ.get("SLURM_ARRAY_JOB_ID")
        tags["slurm_job_id"] = (f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID')}" if array
                                else os.environ["SLURM_JOB_ID"])
        nodes = os.environ.get("SLURM_JOB_NODELIST") or os.environ.get("SLURM_NODELIST")
        if nodes:  # where it ran: node1, or node[1-2] for a job on two nodes
            tags["slurm_nodes"] = nodes
    if os.environ.get("SOCIO_RE_JOB_LOG"):  # the submitit log of this job (set by the launcher)
        tags["job_log"] = os.environ["SOCIO_RE_JOB_LOG"]
    return tags
