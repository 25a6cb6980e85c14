"""Read a submission's own code for attempts on the test harness (the grading side's second look).

The sandbox keeps a submission away from the course directory, the gradebook and other students;
it cannot keep student code in the kernel from changing the kernel itself. The kernel's guard
(tito.sandbox_boot) watches for that at run time; this module reads the source for the same
moves, so that hiding from one check still meets the other. A finding never changes a score: the
submission is put up for review with the reason.
"""
from __future__ import annotations

import ast

# Names whose mere use in a solution has no honest purpose in this course.
HARNESS_NAMES = {
    "get_ipython": "uses the IPython shell (get_ipython)",
    "ast_transformers": "changes how cells are compiled (ast_transformers)",
    "input_transformers_post": "changes how cells are read (input transformers)",
    "input_transformer_manager": "changes how cells are read (input transformers)",
    "__builtins__": "reaches into builtins",
    "settrace": "installs a trace function",
    "setprofile": "installs a profile function",
    "addaudithook": "installs an audit hook",
    "_getframe": "inspects the caller's frames",
    "currentframe": "inspects the caller's frames",
    "getouterframes": "inspects the caller's frames",
    "f_back": "inspects the caller's frames",
    "f_globals": "inspects the caller's frames",
    "get_referrers": "searches the heap (gc.get_referrers)",
    "_ih": "reads the cells' source (_ih)",
    "_oh": "reads the cells' outputs (_oh)",
    "In": "reads the cells' source (In)",
    "Out": "reads the cells' outputs (Out)",
    "_tinytorch_guard": "touches the grading guard",
    "meta_path": "changes the import system",
    "path_hooks": "changes the import system",
    "excepthook": "changes how errors are reported",
    "showtraceback": "changes how errors are reported",
    "_exit": "ends the kernel (os._exit)",
    "__import__": "imports by string (__import__)",
}
HARNESS_MODULES = {
    "builtins": "imports builtins", "ctypes": "imports ctypes", "inspect": "imports inspect",
    "linecache": "imports linecache", "gc": "imports gc", "signal": "imports signal",
    "atexit": "imports atexit", "subprocess": "imports subprocess", "socket": "imports socket",
    "importlib": "imports importlib", "IPython": "imports IPython",
    "ipykernel": "imports ipykernel", "nbgrader": "imports nbgrader", "sqlite3": "imports sqlite3",
}
DYNAMIC_CALLS = {"exec": "runs code from a string (exec)", "eval": "runs code from a string (eval)",
                 "compile": "compiles code from a string (compile)"}
# Modules whose functions and classes the tests rely on: rebinding anything in them is tampering.
SHARED_MODULES = ("numpy", "math", "builtins", "sys", "tinytorch", "warnings", "pytest")


def _imported_names(tree: ast.AST) -> dict[str, str]:
    """local name -> module path for every import in the code (np -> numpy, Tensor -> tinytorch...)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[(a.asname or a.name).split(".")[0]] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def findings(sources: list[str]) -> list[str]:
    """Reasons to review the given cells' code (empty: nothing seen). Unparsable code is skipped:
    it fails on its own when it runs."""
    out: list[str] = []

    def add(reason: str) -> None:
        if reason not in out:
            out.append(reason)

    imported: dict[str, str] = {}
    trees = []
    for src in sources:
        try:
            tree = ast.parse(_strip_magics(src))
        except SyntaxError:
            continue
        trees.append(tree)
        imported.update(_imported_names(tree))
    shared = {local for local, mod in imported.items()
              if mod.split(".")[0] in SHARED_MODULES}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in HARNESS_NAMES:
                add(HARNESS_NAMES[node.id])
            elif isinstance(node, ast.Attribute) and node.attr in HARNESS_NAMES:
                add(HARNESS_NAMES[node.attr])
            elif isinstance(node, ast.Attribute) and node.attr in {"__code__", "__globals__"}:
                add(f"reaches into {node.attr}")
            elif (isinstance(node, ast.Attribute) and node.attr == "modules"
                  and imported.get(_root(node) or "") == "sys"):
                add("changes the loaded modules (sys.modules)")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                    node.module or ""]
                for m in mods:
                    if m.split(".")[0] in HARNESS_MODULES:
                        add(HARNESS_MODULES[m.split(".")[0]])
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in DYNAMIC_CALLS:
                    add(DYNAMIC_CALLS[node.func.id])
                if node.func.id in {"setattr", "delattr"} and node.args:
                    if _root(node.args[0]) in shared:
                        add(f"rebinds an attribute of {imported[_root(node.args[0])]} "
                            f"({node.func.id})")
            targets = []
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [
                    node.target]
            for t in targets:
                if isinstance(t, (ast.Attribute, ast.Subscript)) and _root(t) in shared:
                    add(f"rebinds {ast.unparse(t)} (from {imported[_root(t)]})")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "vars" and node.args and _root(node.args[0]) in shared):
                add(f"reaches into the namespace of {imported[_root(node.args[0])]} (vars)")
    return out


def _strip_magics(src: str) -> str:
    """IPython lines (%magic, !shell) are not Python; the magics themselves are flagged."""
    lines = []
    for line in src.splitlines():
        s = line.lstrip()
        if s.startswith(("%", "!")):
            lines.append(line[: len(line) - len(s)] + "get_ipython()")
        else:
            lines.append(line)
    return "\n".join(lines)
