"""The built wheel works outside the checkout: its console scripts find the configs it carries.

A fresh venv gets the wheel (``--no-deps``) and sees this environment's dependencies through a
path entry, so the test needs no network; this checkout's editable install is not visible there
(a path entry does not run the ``.pth`` hooks editable installs rely on)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory, cache_dir) -> dict:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(work / "dist"), str(ROOT)],
                   check=True, capture_output=True, text=True)
    wheel = next((work / "dist").glob("socio_re-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], check=True, capture_output=True,
                             text=True).stdout.strip()
    # Dependencies from this environment, after the venv's own site-packages.
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, text=True)
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "SOCIO_RE_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{elsewhere / 'mlflow.db'}"}
    env.pop("PYTHONPATH", None)
    return {"wheel": wheel, "bin": venv / "bin", "py": py, "cwd": elsewhere, "env": env}


def _run(installed: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*args], cwd=installed["cwd"], env=installed["env"],
                          capture_output=True, text=True, timeout=1800)


def test_wheel_holds_the_configs_and_imports_from_itself(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    shipped = {n.removeprefix("socio_re/conf/") for n in names if n.startswith("socio_re/conf/")}
    expected = {str(p.relative_to(ROOT / "conf")) for p in (ROOT / "conf").rglob("*.yaml")}
    assert shipped == expected
    where = _run(installed, str(installed["py"]), "-c",
                 "import socio_re, socio_re.config.paths as p; print(socio_re.__file__); "
                 "print(p.CONF_DIR)")
    assert where.returncode == 0, where.stderr
    module, conf = where.stdout.split()
    assert str(ROOT) not in module and str(ROOT) not in conf


def test_console_script_help_and_config_outside_the_checkout(installed):
    train = str(installed["bin"] / "socio-re-train")
    assert _run(installed, train, "--help").returncode == 0
    job = _run(installed, train, "--cfg", "job", "task=relext", "strategy=zero2")
    assert job.returncode == 0, job.stderr
    assert "name: relext" in job.stdout and "zero2" in job.stdout


def test_smoke_run_from_another_directory(installed):
    out = _run(installed, str(installed["bin"] / "socio-re-train"), "debug=smoke",
               "tracking=none", "task.eval.compare_base=false", "hydra.run.dir=run")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert (installed["cwd"] / "run" / "metrics.json").exists()
