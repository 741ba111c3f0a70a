"""Process launching: strategy resolution, in-job rank spawning, SLURM helpers, memory estimates."""
