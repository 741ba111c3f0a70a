"""The documented commands (README.md and every docs/**/*.md) exit as the docs say (the quick
ones here: help, config, every documented one-line error; `python
scripts/check_readme_commands.py` runs them all), and the docs' relative links resolve."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from check_readme_commands import (  # noqa: E402
    PLANS,
    as_runnable,
    doc_files,
    documented_commands,
    main,
    plan_for,
    readme_commands,
)


def test_the_check_reads_the_readme_and_every_docs_page():
    files = doc_files()
    assert files[0] == ROOT / "README.md"
    assert set(files[1:]) == set((ROOT / "docs").rglob("*.md"))
    assert len(files) > 10  # the README and the manual's pages


def test_every_documented_command_has_a_plan_and_the_catch_all_only_runs():
    commands = documented_commands()
    assert len(commands) > 80  # over README.md and docs/ together
    assert len([c for f, c in commands if f.name == "README.md"]) > 20
    assert len({f for f, _ in commands}) > 8  # the commands live on the pages they belong to
    assert PLANS[-1].pattern == "." and PLANS[-1].kind == "run"
    for path, command in commands:
        plan = plan_for(command)
        assert plan.kind in ("run", "fails", "skip"), (path, command)
        if plan.kind == "skip":
            assert plan.why, (path, command)  # a skipped command says why it cannot run here


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings (outside code blocks)."""
    anchors, in_code = set(), False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,6} ", line):
            text = line.lstrip("#").strip().replace("`", "").lower()
            anchors.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return anchors


def _links(path: Path) -> list[str]:
    """Markdown link targets of a file, outside code blocks and code spans."""
    links, in_code = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if not in_code:
            links += re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "``", line))
    return links


def test_relative_links_in_the_readme_and_docs_point_to_files_that_exist():
    broken = []
    for page in doc_files():
        for target in _links(page):
            if re.match(r"[a-z]+:", target):  # http(s):, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            dest = (page.parent / file_part).resolve() if file_part else page
            where = f"{page.relative_to(ROOT)}: {target}"
            if not dest.is_relative_to(ROOT) or not dest.exists():
                broken.append(f"{where} (no such file in the repository)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{where} (no heading #{anchor} in {dest.relative_to(ROOT)})")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_commands_are_read_as_a_user_would_type_them(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("```bash\npython train.py a=1   # comment\npython -m x \\\n"
                      "    --flag \"# not a comment\"\n```\n```\n$ python train.py b=2\n"
                      "config error: ...\n```\n")
    assert readme_commands(readme) == ["python train.py a=1",
                                       'python -m x --flag "# not a comment"',
                                       "python train.py b=2"]
    ran = as_runnable('python -m socio_re.cli.ensemble "multirun/x"/fold=*', {})
    assert ran.endswith(' -m socio_re.cli.ensemble "multirun/x"/fold=*')  # the shell's glob
    assert as_runnable("python -m socio_re.cli.evaluate outputs/socrates/runs/<run>", {}) \
        is None  # no run made yet to stand for <run>


def test_a_command_documented_on_two_pages_runs_once(tmp_path, capsys):
    pages = [tmp_path / "README.md", tmp_path / "other.md"]
    for page in pages:
        page.write_text("```bash\ntrue\n```\n")
    args = [a for p in pages for a in ("--readme", str(p))]
    out = tmp_path / "o.json"
    assert main([*args, "--workdir", str(tmp_path / "work"), "--out", str(out)]) == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert summary == "1 passed, 0 failed (of 2 documented commands; 1 not run here)"
    second = json.loads(out.read_text())["commands"][1]
    assert second["outcome"] == "skipped: the same command ran earlier"


@pytest.mark.slow
def test_quick_readme_commands_exit_as_documented(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_readme_commands.py"),
                          "--quick", "--workdir", str(tmp_path)], capture_output=True,
                         text=True, timeout=3600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    assert " 0 failed" in out.stdout.splitlines()[-1]
