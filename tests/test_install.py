"""The install a newcomer makes: robust to the folder layout git clone leaves behind."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INSTALL = "python -m pip install -q -e . --config-settings editable_mode=compat"


def test_a_script_beside_a_clone_named_tinytorch_imports_the_package(tmp_path: Path):
    """`git clone .../tinytorch` leaves a folder named tinytorch; a script run from the folder
    that holds it must still import the installed package, not that folder as a namespace."""
    (tmp_path / "tinytorch" / "tinytorch").mkdir(parents=True)
    (tmp_path / "tinytorch" / "README.md").write_text("a clone\n", encoding="utf-8")
    script = tmp_path / "train.py"
    script.write_text("from tinytorch import Tensor\nprint(Tensor([1.0, 2.0]).sum().item())\n",
                      encoding="utf-8")
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "3.0", (
        f"a folder named tinytorch shadows the package; install it with `{INSTALL}` as the "
        f"README says.\n{r.stderr[-800:]}")


def test_the_readme_installs_that_way():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv")]
    assert len(commands) == 2 and all(INSTALL in line for line in commands), commands


def test_student_commands_refuse_the_instructor_edition_with_one_message():
    """start, test and complete all say what complete says, before touching anything."""
    import argparse

    import pytest

    from tito import progress
    from tito.cli import UsageError
    from tito.commands import module

    assert not progress.is_student_edition(), "this test runs in the instructor edition"
    args = argparse.Namespace(module="01", open=False, k=None, verbose=False, notebook=False)
    for command in (module.start, module.test, module.complete):
        with pytest.raises(UsageError) as err:
            command(args)
        assert str(err.value) == progress.INSTRUCTOR_REFUSAL, command.__name__
