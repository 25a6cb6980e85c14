"""The README tells the truth: its commands are the ones CI runs, and its example trains."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from tito import course, docs

README = course.REPO_ROOT / "README.md"


def _text() -> str:
    return README.read_text(encoding="utf-8")


def test_the_first_two_commands_set_up_and_run_the_main_job_then_the_tests():
    blocks = re.findall(r"```\n(.*?)```", _text(), re.S)
    first, second = blocks[0].strip(), blocks[1].strip()
    assert first.startswith("python3 -m venv .venv") and first.endswith("tito milestone run 03")
    assert second.startswith("python3 -m venv .venv") and second.endswith("python -m pytest")
    ci = (course.REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest" in ci and "README.md" in ci, ".ci/run must run the README's command"


def test_the_course_table_is_generated_from_the_course_map():
    text = _text()
    assert docs.render_readme(text) == text, "run `tito export --all` to refresh README.md"
    for m in course.MODULES:
        assert f"modules/{m.folder}/{m.name}.py" in text


def test_the_python_example_trains(tmp_path):
    code = re.search(r"```python\n(from tinytorch.core.activations import ReLU.*?)```",
                     _text(), re.S).group(1)
    env = dict(os.environ, PYTHONPATH=str(course.REPO_ROOT), OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", proc.stdout)]
    assert len(losses) == 3 and losses[-1] < 1.0, proc.stdout
