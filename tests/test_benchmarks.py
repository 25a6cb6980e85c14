"""The benchmark scripts keep working (no timing is asserted: that is what they report)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tito import course

BENCH = course.REPO_ROOT / "benchmarks"
pytestmark = pytest.mark.slow


def _run(*args: str) -> str:
    env = dict(os.environ, PYTHONPATH=str(course.REPO_ROOT))
    proc = subprocess.run([sys.executable, *args], cwd=course.REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_epoch_benchmark_prints_every_implementation_and_the_ratio():
    out = _run(str(BENCH / "mlp_epoch.py"), "--data", "digits", "--runs", "1", "--configs",
               "784-128-10", "--opts", "sgd", "adam", "--impls", "numpy", "numpy-ops",
               "tinytorch")
    rows = [line for line in out.splitlines() if line.startswith("| 784-128-10")]
    assert len(rows) == 6, out
    for r in rows:
        cells = r.split("|")
        if "| tinytorch |" in r:        # / numpy and / numpy-ops
            assert cells[7].split()[0].endswith("x") and cells[8].split()[0].endswith("x"), r
        if "| numpy-ops |" in r:
            assert cells[7].split()[0].endswith("x") and not cells[8].strip(), r


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_numpy_ops_trains_exactly_as_tinytorch_does(opt):
    """numpy-ops claims tinytorch's operations: three steps of each must agree to round-off."""
    import numpy as np

    sys.path.insert(0, str(BENCH))
    import mlp_epoch

    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import SGD, Adam
    from tinytorch.core.tensor import Tensor, manual_seed

    manual_seed(0)
    model = Sequential(Linear(20, 16), ReLU(), Linear(16, 12), ReLU(), Linear(12, 5))
    linears = [model[0], model[2], model[4]]
    weights = [layer.weight.data.copy() for layer in linears]
    biases = [layer.bias.data.copy() for layer in linears]
    params = model.parameters()
    lr = mlp_epoch.LR[opt]
    optimizer = SGD(params, lr=lr) if opt == "sgd" else Adam(params, lr=lr)
    step = mlp_epoch.make_step(model, CrossEntropyLoss(), optimizer)
    ops_step = mlp_epoch.numpy_ops_step(weights, biases, opt)
    first = weights[0].copy()
    rng = np.random.default_rng(1)
    for _ in range(3):
        xb = rng.standard_normal((8, 20)).astype(np.float32)
        yb = rng.integers(0, 5, 8)
        step(Tensor(xb), Tensor(yb))
        ops_step(xb, yb)
    for layer, w, b in zip(linears, weights, biases):
        np.testing.assert_allclose(layer.weight.data, w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.bias.data, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(weights[0], first), "the steps changed the weights"


def test_overhead_benchmark_runs():
    out = _run(str(BENCH / "op_overhead.py"), "--reps", "20", "--rounds", "1")
    assert "| 1 | tinytorch |" in out and "| 32 | tinytorch |" in out


def test_results_sections_are_replaced_one_at_a_time(tmp_path):
    sys.path.insert(0, str(BENCH))
    from results_file import replace_section

    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\n## A\nold a\n\n## B\nkeep b\n", encoding="utf-8")
    replace_section("## A", "## A\nnew a\n", path)
    replace_section("## C", "## C\nnew c\n", path)
    text = path.read_text(encoding="utf-8")
    assert "old a" not in text and "new a" in text and "keep b" in text and "new c" in text
    assert text.index("new a") < text.index("keep b") < text.index("new c")


def test_report_prints_the_section_and_writes_it_only_when_asked(tmp_path, capsys):
    sys.path.insert(0, str(BENCH))
    from results_file import report

    path = tmp_path / "RESULTS.md"
    report(["## S", "", "| a |"], write=False, path=path)
    assert "| a |" in capsys.readouterr().out and not path.exists()
    report(["## S", "", "| b |"], write=True, path=path)
    assert "written to RESULTS.md" in capsys.readouterr().out
    assert path.read_text(encoding="utf-8") == "## S\n\n| b |\n"


def test_conv_benchmark_prints_ops_epochs_and_memory():
    pytest.importorskip("torch")
    out = _run(str(BENCH / "conv.py"), "--data", "digits", "--runs", "1", "--rounds", "1",
               "--reps", "1")
    assert "| tinytorch |" in out and "| torch |" in out, out
    epoch_row = next(line for line in out.splitlines() if line.startswith("| tinytorch |"))
    ratio = epoch_row.split("|")[5].strip()
    assert re.fullmatch(r"\d+\.\d\dx \(\d+\.\d\dx-\d+\.\d\dx\)", ratio), epoch_row
    assert "| conv2 16->32 14x14 k5 forward + backward |" in out
    memory = [line for line in out.splitlines() if line.startswith("| conv1") and "25.0x" in line]
    assert memory, "padding 2 with a 5 x 5 kernel: the columns are 25 times the input"


def test_benchmarks_print_by_default_and_write_only_with_the_flag():
    results = BENCH / "RESULTS.md"
    before = results.read_bytes() if results.exists() else None
    out = _run(str(BENCH / "op_overhead.py"), "--reps", "5", "--rounds", "1")
    assert "| 32 | tinytorch |" in out and "written to" not in out
    assert (results.read_bytes() if results.exists() else None) == before, "printing only"


def test_results_of_the_readme_example_are_ignored_by_git():
    import shutil

    if shutil.which("git") is None or not (course.REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    r = subprocess.run(["git", "check-ignore", "-q", "results/mnist_mlp/result.json"],
                       cwd=course.REPO_ROOT)
    assert r.returncode == 0, "the README's --out results/ must not leave untracked files"


def test_step_breakdown_prints_phases_matmul_layouts_and_subnormals():
    out = _run(str(BENCH / "step_breakdown.py"), "--data", "digits", "--rounds", "1",
               "--steps", "2", "--warmup", "2")
    for opt in ("sgd", "adam"):
        row = next(line for line in out.splitlines() if line.startswith(f"| {opt} | tinytorch |"))
        cells = [c.strip() for c in row.split("|")[1:-1]]
        assert re.fullmatch(r"\d+\.\d\dx \[\d+\.\d\d-\d+\.\d\d\]", cells[3]), row
        assert all(c.isdigit() for c in cells[4:]), row
        assert f"| {opt} | column-major (F) |" in out
    assert "| row-major (C) |" in out and "| column-major (F) |" in out
    adam = next(line for line in out.splitlines() if line.startswith("| adam | row-major (C) |"))
    assert adam.split("|")[-2].strip().isdigit(), "Adam's rows count the subnormals"


def test_a_timed_tinytorch_step_includes_gathering_its_batch(monkeypatch):
    """The numpy steps gather x[idx] inside their timed call; tinytorch's time must too.

    A fake clock advances one unit per reading, so every phase lasts exactly one unit and the
    step's total is the number of phases, the batch included.
    """
    import itertools

    import numpy as np

    sys.path.insert(0, str(BENCH))
    import step_breakdown

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 784)).astype(np.float32)
    y = rng.integers(0, 10, 32)
    runner = step_breakdown.Runner("tinytorch", "sgd", x, y)
    ticks = itertools.count()
    monkeypatch.setattr(step_breakdown.time, "perf_counter", lambda: float(next(ticks)))
    per_step = runner.run([np.arange(8), np.arange(8, 16)], by_phase=True)
    assert step_breakdown.PHASES[0] == "batch"
    assert per_step == len(step_breakdown.PHASES)
    assert all(runner.phases[ph] == [1.0, 1.0] for ph in step_breakdown.PHASES)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_column_major_weights_train_exactly_as_row_major_ones(opt):
    """The breakdown compares two layouts of one computation: their steps must agree."""
    import numpy as np

    sys.path.insert(0, str(BENCH))
    import step_breakdown
    from tinytorch.core.autograd import linear_backward
    from tinytorch.core.tensor import Tensor

    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((16, 784)).astype(np.float32))
    y = Tensor(rng.integers(0, 10, 16))
    results = []
    try:
        for column_major, rule in ((False, linear_backward),
                                   (True, step_breakdown.column_major_linear_backward)):
            step_breakdown.use_linear_rule(rule)
            model, loss_fn, optimizer = step_breakdown.tinytorch_model(opt, column_major)
            assert model[0].weight.data.flags.f_contiguous == column_major
            for _ in range(3):
                optimizer.zero_grad()
                loss_fn(model(x), y).backward()
                optimizer.step()
            assert model[0].weight.grad.data.flags.f_contiguous == column_major
            results.append([p.data.copy() for p in model.parameters()])
    finally:
        step_breakdown.use_linear_rule(linear_backward)
    # Adam divides by sqrt(v): round-off of the matmul order shows up to about 1e-6 (an Adam
    # step moves a weight by about lr = 1e-3).
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 if opt == "adam" else 1e-6)


def test_instruction_counts_rank_the_machinery():
    """callgrind's counts for the tiny network: each implementation adds work to the last."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")
    out = _run(str(BENCH / "instructions.py"), "--networks", "tiny", "--opts", "sgd")
    row = next(line for line in out.splitlines() if line.startswith("| tiny | sgd |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    floor, ops, tt = (float(c.replace(",", "")) for c in cells[2:5])
    assert 0 < floor < ops < tt, row
    assert cells[5] == f"{tt / floor:.2f}x", row
    assert abs(float(cells[7].replace(",", "")) - (tt - ops)) <= 1, "rounded counts, same gap"


def test_simulated_cache_misses_rank_the_implementations():
    """cachegrind on the tiny network: tinytorch's objects touch more L1 lines than the numpy
    steps do, and the working set all but fits the simulated L2 (a 2 MiB L2 misses 0 or 1
    times a step, a 1 MiB 8-way L2 a few dozen times, against thousands of L1 misses)."""
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed")
    out = _run(str(BENCH / "instructions.py"), "--cache", "--networks", "tiny", "--opts", "sgd")
    rows = {}
    for line in out.splitlines():
        if line.startswith("| tiny | sgd |"):
            cells = [c.strip() for c in line.split("|")[1:-1]]
            rows[cells[2]] = [int(c.replace(",", "")) for c in cells[3:]]
    assert list(rows) == ["numpy", "numpy-ops", "tinytorch"], out
    assert 0 < rows["numpy"][0] < rows["numpy-ops"][0] < rows["tinytorch"][0], rows
    assert all(l2 <= l1 // 50 for l1, l2 in rows.values()), rows


def test_simulated_caches_are_this_machines_as_sysfs_describes_them(tmp_path):
    """The L1 data cache and the L2 come from sysfs (the instruction caches and L3 do not
    count); a machine without sysfs gets the defaults, and describe_caches (which the table
    prints) names whichever was used."""
    sys.path.insert(0, str(BENCH))
    try:
        import instructions
    finally:
        sys.path.remove(str(BENCH))
    entries = {"index0": ("1", "Data", "32K", "8"), "index1": ("1", "Instruction", "32K", "8"),
               "index2": ("2", "Unified", "1024K", "8"), "index3": ("3", "Unified", "32768K", "16")}
    for name, (level, kind, size, ways) in entries.items():
        d = tmp_path / name
        d.mkdir()
        for field, value in (("level", level), ("type", kind), ("size", size),
                             ("ways_of_associativity", ways), ("coherency_line_size", "64")):
            (d / field).write_text(value + "\n")
    caches = instructions.machine_caches(tmp_path)
    assert caches == {"D1": (32768, 8, 64), "LL": (1048576, 8, 64)}
    assert instructions.describe_caches(caches) == "32 KiB L1 data, 1 MiB L2"
    # With 64-byte lines, 3 MiB over 16 ways is 3072 sets, which cachegrind cannot simulate
    # (the default L2 instead); 1.25 MiB over 10 ways is 2048 sets, simulated as it is.
    (tmp_path / "index2" / "size").write_text("3072K\n")
    (tmp_path / "index2" / "ways_of_associativity").write_text("16\n")
    assert instructions.machine_caches(tmp_path)["LL"] == instructions.DEFAULT_CACHES["LL"]
    (tmp_path / "index2" / "size").write_text("1280K\n")
    (tmp_path / "index2" / "ways_of_associativity").write_text("10\n")
    assert instructions.machine_caches(tmp_path)["LL"] == (1310720, 10, 64)
    missing = instructions.machine_caches(tmp_path / "absent")
    assert missing == instructions.DEFAULT_CACHES
    assert instructions.describe_caches(missing) == "48 KiB L1 data, 2 MiB L2"


def test_instruction_benchmark_says_what_to_do_without_valgrind(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path), PYTHONPATH=str(course.REPO_ROOT))
    proc = subprocess.run([sys.executable, str(BENCH / "instructions.py")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "valgrind is not installed" in proc.stderr
    assert "mlp_epoch.py" in proc.stderr
