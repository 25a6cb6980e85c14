"""pytest plugin for the mutant runs: the tests run as on a machine without PyTorch.

Most students do not install PyTorch, so the comparison tests skip for them
(``pytest.importorskip("torch")``). A bug counts as caught by the tests only if the tests a
student really runs catch it. Loaded with ``-p without_torch`` before any test module is
imported; ``import torch`` then raises ImportError.
"""
import sys

sys.modules["torch"] = None  # type: ignore[assignment]
