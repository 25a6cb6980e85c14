"""The milestones learn for real, on small settings, and `tito milestone` guards them.

Each milestone script is run as a student would run it (a fresh process, the working copy's
package first on the path) and its JSON record is checked for learning: accuracy far above
chance and a loss that went down. The figures must exist as real PNG files.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tito import course

REPO = course.REPO_ROOT
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _env(**extra: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["MPLBACKEND"] = "Agg"
    env.update(extra)
    return env


def run_script(ms: course.Milestone, out: Path, *args: str, **env: str):
    cmd = [sys.executable, str(ms.path() / ms.script), "--out", str(out), *args]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(**env), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"milestone {ms.number} failed:\n{proc.stdout}\n{proc.stderr}"
    record = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return proc, record


def assert_figures(out: Path, record: dict) -> None:
    assert record["figures"], "a milestone must save at least one figure"
    for name in record["figures"]:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000, f"{name} is not a real PNG"


def by_name(name: str) -> course.Milestone:
    return course.get_milestone(name)


def test_perceptron_separates_the_points(tmp_path):
    ms = by_name("perceptron")
    _, record = run_script(ms, tmp_path, "--epochs", "15")
    assert record["accuracy"] >= 0.98, record
    assert record["final_loss"] < record["first_loss"] / 2, "the loss should fall"
    assert record["seed"] == 0 and record["package_version"] not in ("", "unknown")
    assert_figures(tmp_path, record)


def test_xor_needs_a_hidden_layer(tmp_path):
    ms = by_name("xor")
    _, record = run_script(ms, tmp_path, "--epochs", "10")
    assert record["single_layer_accuracy"] <= 0.75, "no line gets more than 3 of 4 XOR points"
    assert record["best_random_line_accuracy"] == 0.75
    assert record["accuracy"] == 1.0, "the two-layer MLP must solve XOR"
    assert record["final_loss"] < 0.1 < record["first_loss"]
    assert_figures(tmp_path, record)


def test_mnist_mlp_learns_on_the_shipped_digits(tmp_path):
    ms = by_name("mnist_mlp")
    proc, record = run_script(ms, tmp_path, "--epochs", "2", "--data", "digits")
    assert record["data"] == "digits"
    assert record["accuracy"] >= 0.85, f"chance is 10%; got {record['accuracy']:.1%}"
    assert record["final_loss"] < record["first_loss"]
    assert len(record["test_accuracy_per_epoch"]) == 2
    assert_figures(tmp_path, record)
    assert {"training_curves.png", "confusion_matrix.png", "misclassified.png"} <= \
        set(record["figures"])


def test_mnist_mlp_is_reproducible_with_a_seed(tmp_path):
    ms = by_name("mnist_mlp")
    _, a = run_script(ms, tmp_path / "a", "--epochs", "1", "--data", "digits", "--seed", "3")
    _, b = run_script(ms, tmp_path / "b", "--epochs", "1", "--data", "digits", "--seed", "3")
    assert a["accuracy"] == b["accuracy"] and a["final_loss"] == b["final_loss"]


def test_mnist_mlp_falls_back_to_digits_with_a_banner(tmp_path):
    """No MNIST anywhere (empty folders, no mirrors answer, no npm): the digits set is used."""
    ms = by_name("mnist_mlp")
    empty = tmp_path / "empty"
    empty.mkdir()
    proc, record = run_script(
        ms, tmp_path / "out", "--epochs", "1", "--data", "mnist",
        TINYTORCH_DATA=str(empty), TINYTORCH_CACHE=str(empty),
        TINYTORCH_MNIST_MIRRORS="http://127.0.0.1:9/", TINYTORCH_NPM="0")
    assert record["data"] == "digits"
    assert "MNIST could not be obtained" in proc.stdout
    assert "tito data fetch mnist" in proc.stdout


def _partial_copy(tmp_path: Path, drop: course.Module) -> Path:
    """A working copy of the instructor edition whose package lacks one module's files."""
    root = tmp_path / "copy"
    for name in ("tito", "tinytorch", "milestones", "modules"):
        shutil.copytree(REPO / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", "results", "*.ipynb"))
    shutil.copy(REPO / "setup.cfg", root / "setup.cfg")
    for target in drop.targets:
        root.joinpath("tinytorch", *target.split(".")).with_suffix(".py").unlink()
    return root


def _tito(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    return subprocess.run([sys.executable, "-m", "tito", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_locked_milestone_exits_2_and_names_the_missing_modules(tmp_path):
    ms = course.MILESTONES[-1]
    missing = course.get_module(ms.requires[-1])
    root = _partial_copy(tmp_path, missing)
    proc = _tito(root, "milestone", "run", ms.number)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{missing.number} ({missing.name})" in proc.stderr
    assert f"tito module complete {missing.number}" in proc.stderr
    assert "Traceback" not in proc.stderr
    listing = _tito(root, "milestone", "list")
    assert listing.returncode == 0 and "locked" in listing.stdout


def test_unknown_milestone_and_misplaced_option_exit_2(tmp_path):
    unknown = _tito(REPO, "milestone", "run", "99")
    assert unknown.returncode == 2 and "unknown milestone" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    fixed = next(m for m in course.MILESTONES if not m.takes_data)
    misplaced = _tito(REPO, "milestone", "run", fixed.number, "--data", "digits")
    assert misplaced.returncode == 2 and "--data" in misplaced.stderr


@pytest.mark.parametrize("args, words", [
    (("--epochs", "0"), "--epochs"), (("--epochs", "two"), "--epochs"),
    (("--seed", "-1"), "--seed"), (("--out", "{file}/results"), "--out")])
def test_bad_options_are_one_line_exit_2_before_training(tmp_path, args, words):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder", encoding="utf-8")
    args = tuple(a.format(file=blocker) for a in args)
    proc = _tito(REPO, "milestone", "run", course.MILESTONES[0].number, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tito: ") and words in lines[0], proc.stderr
    assert proc.stdout == "", "nothing may start training on bad options"


def test_lenet_learns_on_the_shipped_digits_and_draws_its_filters(tmp_path):
    ms = by_name("lenet")
    _, record = run_script(ms, tmp_path, "--epochs", "2", "--data", "digits")
    assert record["data"] == "digits" and record["milestone"] == ms.number
    assert record["accuracy"] >= 0.9, f"chance is 10%; got {record['accuracy']:.1%}"
    assert record["final_loss"] < record["first_loss"]
    assert len(record["test_accuracy_per_epoch"]) == 2
    assert_figures(tmp_path, record)
    assert {"training_curves.png", "confusion_matrix.png", "misclassified.png",
            "filters_and_maps.png"} <= set(record["figures"])
    import numpy as np

    with np.load(tmp_path / "checkpoint.npz", allow_pickle=False) as ckpt:
        assert "model/0.weight" in ckpt.files and ckpt["model/0.weight"].shape == (16, 1, 5, 5)
        assert json.loads(str(ckpt["meta"]))["epoch"] == 2


def test_lenet_resumed_after_an_interruption_ends_where_an_uninterrupted_run_ends(tmp_path):
    """Kill a run once its first epoch is checkpointed, resume it: same weights, same record."""
    import time

    ms = by_name("lenet")
    args = ("--epochs", "2", "--data", "digits", "--seed", "1")
    _, whole = run_script(ms, tmp_path / "whole", *args)
    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, str(ms.path() / ms.script), "--out", str(cut),
                             *args], cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (cut / "checkpoint.npz").exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "no checkpoint after the first epoch"
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    assert not (cut / "result.json").exists(), "the run was meant to be cut after epoch 1"
    _, resumed = run_script(ms, cut, *args, "--resume")
    assert resumed["resumed_after_epoch"] == 1
    for key in ("accuracy", "final_loss", "first_loss", "test_accuracy_per_epoch"):
        assert resumed[key] == whole[key], key
    import numpy as np

    with np.load(tmp_path / "whole" / "checkpoint.npz") as a, np.load(cut / "checkpoint.npz") as b:
        for name in a.files:
            if name != "meta":
                assert np.array_equal(a[name], b[name]), name


def test_resume_without_a_checkpoint_or_for_a_milestone_without_one_is_refused(tmp_path):
    ms = by_name("lenet")
    cmd = [sys.executable, str(ms.path() / ms.script), "--out", str(tmp_path), "--resume",
           "--data", "digits"]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "--resume: no checkpoint.npz" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    fixed = next(m for m in course.MILESTONES if not m.resumable)
    refused = _tito(REPO, "milestone", "run", fixed.number, "--resume")
    assert refused.returncode == 2 and "--resume" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
