"""Bad data through the real command: one line naming the problem and the fix, exit code 2."""

from __future__ import annotations

import pandas as pd
from conftest import run_train

from socio_re.tasks.socrates.data import generate_sample, load_socsci


def _lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.strip().splitlines() if ln.strip()]


def test_malformed_rows_above_threshold_stop_the_run(tmp_path):
    src = tmp_path / "src"
    generate_sample(src, num_studies=6, participants_per_study=20, seed=3)
    df = load_socsci(str(src))
    bad = df.copy()
    bad["response"] = bad["response"].astype(object)
    bad.loc[bad.index[:40], "response"] = "seven"          # non-integer responses
    bad.loc[bad.index[40:60], "prompt"] = "   "             # empty prompts
    data_dir = tmp_path / "bad"
    data_dir.mkdir()
    bad.to_json(data_dir / "rows.jsonl", orient="records", lines=True)
    out = run_train([f"data.path={data_dir}", "data.generate_sample=null", "tracking=none",
                     f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    line = _lines(out.stderr)[-1]
    assert "malformed" in line and "data.max_malformed_fraction" in line
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_missing_data_dir_names_the_path(tmp_path):
    out = run_train([f"data.path={tmp_path}/nowhere", "data.generate_sample=null",
                     "tracking=none", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert out.returncode == 2
    line = _lines(out.stderr)[-1]
    assert "nowhere" in line and "does not exist" in line


def test_missing_columns_are_listed(tmp_path):
    data_dir = tmp_path / "cols"
    data_dir.mkdir()
    pd.DataFrame({"prompt": ["a"], "response": [1]}).to_parquet(data_dir / "x.parquet")
    out = run_train([f"data.path={data_dir}", "data.generate_sample=null", "tracking=none",
                     f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert out.returncode == 2
    line = _lines(out.stderr)[-1]
    assert "study_id" in line and "missing" in line.lower()
