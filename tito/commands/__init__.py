"""One file per command group. Each exposes ``register(subparsers)``.

A group adds its parser(s) with ``set_defaults(func=...)``; the function takes the parsed
arguments and returns an exit code (0 success, 1 a check failed, 2 bad input).
"""

# Order here is the order of `tito --help`.
GROUPS = ("module", "milestone", "data", "export", "lint", "doctor", "release", "nbgrader",
          "bench")
