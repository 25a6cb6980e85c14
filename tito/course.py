"""The course map: the one place that lists the modules and the milestones.

The CLI, the exporter, the tests and the docs all read this table. Nothing else in the
repository hard-codes a module number, folder or package target.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "tinytorch"


@dataclass(frozen=True)
class Module:
    number: str            # "01"
    name: str              # "tensor" -> folder modules/01_tensor, source tensor.py
    title: str
    target: str            # dotted path inside the package, e.g. "core.tensor"
    requires: tuple[str, ...] = ()
    extra_targets: tuple[str, ...] = ()   # other package files this module exports to

    @property
    def folder(self) -> str:
        return f"{self.number}_{self.name}"

    @property
    def marker(self) -> str:
        return f"module{self.number}"

    def source(self, root: Path = REPO_ROOT) -> Path:
        return root / "modules" / self.folder / f"{self.name}.py"

    def notebook(self, root: Path = REPO_ROOT) -> Path:
        return root / "modules" / self.folder / f"{self.name}.ipynb"

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.target, *self.extra_targets)


@dataclass(frozen=True)
class Milestone:
    number: str            # "03"
    name: str              # folder milestones/03_mnist_mlp
    title: str
    year: int
    requires: tuple[str, ...] = field(default_factory=tuple)
    script: str = "run.py"
    takes_data: bool = False   # accepts --data mnist|digits
    resumable: bool = False    # accepts --resume (continue from its last checkpoint)

    @property
    def folder(self) -> str:
        return f"{self.number}_{self.name}"

    def path(self, root: Path = REPO_ROOT) -> Path:
        return root / "milestones" / self.folder


MODULES: tuple[Module, ...] = (
    Module("01", "tensor", "Tensors: the data structure of deep learning", "core.tensor"),
    Module("02", "activations", "Activations: the nonlinearity that makes depth pay",
           "core.activations", ("01",)),
    Module("03", "layers", "Layers: parameters, modules and Linear", "core.layers",
           ("01", "02")),
    Module("04", "losses", "Losses: measuring how wrong a model is", "core.losses",
           ("01", "02", "03")),
    Module("05", "autograd", "Autograd: the chain rule, automated", "core.autograd",
           ("01", "02", "03", "04")),
    Module("06", "optimizers", "Optimizers: SGD, momentum and Adam", "core.optimizers",
           ("01", "02", "03", "04", "05")),
    Module("07", "dataloader", "Data: datasets, batching and the IDX format",
           "core.dataloader", ("01", "02", "03", "04", "05", "06"),
           extra_targets=("datasets",)),
    Module("08", "training", "Training: schedules, clipping, checkpoints and the loop",
           "core.training", ("01", "02", "03", "04", "05", "06", "07")),
    Module("09", "convolutions", "Convolutions: im2col, pooling and a CNN", "core.spatial",
           ("01", "02", "03", "04", "05", "06", "07")),
)

MILESTONES: tuple[Milestone, ...] = (
    Milestone("01", "perceptron", "The Perceptron", 1957,
              ("01", "02", "03", "04", "05", "06")),
    Milestone("02", "xor", "XOR and the case for hidden layers", 1969,
              ("01", "02", "03", "04", "05", "06")),
    Milestone("03", "mnist_mlp", "Backpropagation: an MLP reads handwritten digits", 1986,
              ("01", "02", "03", "04", "05", "06", "07"), takes_data=True),
    Milestone("04", "lenet", "LeNet: a convolutional network reads handwritten digits", 1998,
              ("01", "02", "03", "04", "05", "06", "07", "09"), takes_data=True,
              resumable=True),
)


def test_markers(text: str) -> set[str]:
    """The course markers (``moduleNN``, ``integration``) a test file applies with ``pytest.mark``.

    Only code counts, not a marker name inside a string. The student loop picks its test files
    and the student edition its tests by this one rule.
    """
    import ast
    import re

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return set(re.findall(r"\bmark\.(module\d+|integration)\b", text))
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and node.value.attr == "mark"
            and (node.attr == "integration" or re.fullmatch(r"module\d+", node.attr))}


class CourseError(LookupError):
    """A module or milestone that the course map does not know."""


def _normalise(key: str) -> str:
    key = str(key).strip()
    return key.zfill(2) if key.isdigit() else key


def get_module(key: str) -> Module:
    """Look a module up by number ("1", "01") or by name ("tensor")."""
    k = _normalise(key)
    for m in MODULES:
        if k in (m.number, m.name, m.folder):
            return m
    known = ", ".join(f"{m.number} ({m.name})" for m in MODULES)
    raise CourseError(f"unknown module '{key}': the course has {known}")


def get_milestone(key: str) -> Milestone:
    """Look a milestone up by number ("3", "03") or by name ("mnist_mlp")."""
    k = _normalise(key)
    for m in MILESTONES:
        if k in (m.number, m.name, m.folder):
            return m
    known = ", ".join(f"{m.number} ({m.name})" for m in MILESTONES)
    raise CourseError(f"unknown milestone '{key}': the course has {known}")

