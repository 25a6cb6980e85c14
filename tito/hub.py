"""The course on a shared JupyterHub: nbgrader's exchange, the students' config and checks.

On a hub, students and the instructor are different Unix accounts on one machine. Four things
must hold for the course to work, and the fifth for it to be fair:

1. The exchange folder exists with nbgrader's permissions (everyone may write, sticky: 1777).
2. Every student's nbgrader reads the exchange root, the course id and the folder assignments
   land in from a Jupyter config file in the students' Python (not from the course directory,
   which students cannot read).
3. The students' servers run the student edition's environment: ``import tinytorch`` there
   never reaches the reference solutions.
4. Each student's server starts through ``tito.hub_launch``, which gives the student their own
   workspace (``tito.workspace``), copied from the student edition folder, first on its path:
   later modules import the student's own earlier ones from there.
5. The course directory, its gradebook and grades, and the collected submissions are readable by
   the instructor only.

``setup`` writes the two config files (templates in ``tito/templates/hub/``) into
``<course>/hub/``; ``doctor_checks`` verifies all five points on a running machine.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path
from string import Template

from tito import cellformat, course, grading, progress, workspace

EXCHANGE_MODE = 0o1777
DEFAULT_EXCHANGE = Path("/srv/nbgrader/exchange")
TEMPLATES = Path(__file__).resolve().parent / "templates" / "hub"
HUB_FOLDER = "hub"                     # inside the course directory
STUDENT_CONFIG = "nbgrader_config.py"  # the name Jupyter looks for in its config folders
HUB_CONFIG = "jupyterhub_config.py"


class HubError(Exception):
    """Bad input or a machine that cannot host the course yet: the message says what to do."""


# A hub check prints like any other doctor line.
from tito.commands.doctor import Result as Check  # noqa: E402


def render(name: str, **values: str) -> str:
    """A template of ``tito/templates/hub/`` with its ``${...}`` fields filled."""
    return Template((TEMPLATES / name).read_text(encoding="utf-8")).substitute(values)


# ---------------------------------------------------------------------------------------------
# The exchange


def exchange_problem(path: Path) -> str | None:
    """What is wrong with an exchange folder for nbgrader on a shared machine, or None."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is not a folder"
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o777 != 0o777:
        return (f"{path} has mode {mode:04o}; students and the instructor must all be able to "
                f"write into it (nbgrader needs 1777)")
    return None


def root_command(path: Path) -> str:
    return f"sudo install -d -m 1777 {path}"


def ensure_exchange(path: Path) -> str:
    """Create or fix the exchange folder; returns what was done. HubError when not allowed."""
    problem = exchange_problem(path)
    if problem is None:
        return f"{path} ready (mode {stat.S_IMODE(path.stat().st_mode):04o})"
    if path.exists() and not path.is_dir():
        raise HubError(f"{path} is a file, not a folder: choose another --exchange")
    try:
        existed = path.exists()
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, EXCHANGE_MODE)
    except PermissionError:
        raise HubError(f"{problem}, and this account may not change that: run "
                       f"`{root_command(path)}` as root, then this command again") from None
    return f"{path} {'set to' if existed else 'created with'} mode 1777"


# ---------------------------------------------------------------------------------------------
# Config files


def hub_folder(root: Path) -> Path:
    return root / HUB_FOLDER


def student_config_target(student_venv: Path | None) -> Path:
    """Where the students' Python reads Jupyter config: its prefix, else the system folder."""
    base = student_venv / "etc" / "jupyter" if student_venv else Path("/etc/jupyter")
    return base / STUDENT_CONFIG


def install_command(config: Path, student_venv: Path | None) -> str:
    target = student_config_target(student_venv)
    return f"sudo install -D -m 644 {config} {target}"


def write_configs(root: Path, exchange: Path, student_venv: Path, students: list[str],
                  edition: Path) -> tuple[Path, Path]:
    """Write ``<course>/hub/nbgrader_config.py`` and ``jupyterhub_config.py``."""
    folder = hub_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    student_cfg = folder / STUDENT_CONFIG
    student_cfg.write_text(render("student_" + STUDENT_CONFIG, exchange=str(exchange),
                                  course_id=grading.COURSE_ID,
                                  workspace=workspace.WORKSPACE_NAME,
                                  modules=workspace.MODULES_DIR), encoding="utf-8")
    hub_cfg = folder / HUB_CONFIG
    hub_cfg.write_text(render(HUB_CONFIG, student_venv=str(student_venv), edition=str(edition),
                              workspace=workspace.WORKSPACE_NAME,
                              students=json.dumps(sorted(students))), encoding="utf-8")
    return student_cfg, hub_cfg


def edition_problem(edition: Path) -> str | None:
    """Why ``edition`` cannot be the folder students' servers copy their workspace from."""
    if not edition.is_dir():
        return f"{edition} is not a folder"
    if not progress.is_student_edition(edition):
        return (f"{edition} is not a student edition ({progress.STATE_DIR}/"
                f"{progress.EDITION_FILE} does not say student)")
    for p in [edition, *edition.rglob("*")]:
        if p.is_symlink():
            continue
        need = 0o005 if p.is_dir() else 0o004
        if stat.S_IMODE(p.stat().st_mode) & need != need:
            return (f"{p} has mode {stat.S_IMODE(p.stat().st_mode):04o}: students' servers "
                    f"copy the edition as the students, so every account must read all of it")
    if not readable_by_others(edition):
        return f"a folder above {edition} is closed to other accounts"
    return None


def check_edition(edition: Path) -> Path:
    """The edition folder for setup, or HubError saying how to make a usable one."""
    edition = edition.expanduser().absolute()
    problem = edition_problem(edition)
    if problem is None:
        return edition
    if progress.is_student_edition(edition):
        fix = f"run `chmod -R a+rX {edition}` (as root if root made it)"
    else:
        fix = (f"make it with `tito release student --out {edition}` in the instructor's "
               f"repository, then `chmod -R a+rX {edition}`")
    raise HubError(f"--edition: {problem}; {fix}")


def configured_edition(root: Path) -> Path | None:
    """The ``--edition`` setup wrote into the hub's config (the launcher's argument), or None
    when there is no such config or it does not load (the doctor then says to run setup)."""
    from traitlets.config.loader import PyFileConfigLoader

    cfg = hub_folder(root) / HUB_CONFIG
    try:
        loaded = PyFileConfigLoader(cfg.name, str(cfg.parent)).load_config()
    except Exception:  # missing, or edited into Python that no longer runs
        return None
    cmd = list(loaded.get("Spawner", {}).get("cmd", []))
    if "--edition" in cmd[:-1]:
        return Path(cmd[cmd.index("--edition") + 1])
    return None


def configured_exchange(root: Path) -> Path:
    """The exchange root written by setup into ``<course>/hub/nbgrader_config.py``."""
    from traitlets.config.loader import PyFileConfigLoader

    cfg = hub_folder(root) / STUDENT_CONFIG
    if not cfg.is_file():
        raise HubError(f"{root} has no hub set-up yet ({cfg} is missing): run "
                       f"`tito nbgrader hub setup --exchange DIR --student-venv VENV "
                       f"--edition DIR` first")
    loaded = PyFileConfigLoader(cfg.name, str(cfg.parent)).load_config()
    root_value = loaded.get("Exchange", {}).get("root")
    if not root_value:
        raise HubError(f"{cfg} sets no c.Exchange.root: run `tito nbgrader hub setup` again")
    return Path(root_value)


def exchange_options(root: Path) -> list[str]:
    """nbgrader options that point the instructor's own nbgrader runs at the exchange."""
    return [f"--Exchange.root={configured_exchange(root)}",
            f"--CourseDirectory.course_id={grading.COURSE_ID}"]


# ---------------------------------------------------------------------------------------------
# Privacy of the course directory


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.lstat().st_mode) & 0o077 == 0


def privacy_problems(root: Path) -> list[str]:
    """Everything in the course directory another account could read (or write)."""
    problems = []
    if root.is_dir() and not _private(root):
        mode = stat.S_IMODE(root.stat().st_mode)
        problems.append(f"{root} has mode {mode:04o} (other accounts can open it)")
    for name in ("gradebook.db", "grades.csv"):
        p = root / name
        if p.is_file() and not _private(p):
            problems.append(f"{p} has mode {stat.S_IMODE(p.stat().st_mode):04o}")
    submitted = root / "submitted"
    if submitted.is_dir():
        # submitted/ itself only lists student ids; what is in it is their work.
        for p in [submitted, *submitted.rglob("*")]:
            mode = stat.S_IMODE(p.lstat().st_mode)
            if mode & 0o002:
                problems.append(f"{p} is world-writable (mode {mode:04o})")
            elif mode & 0o077 and p != submitted:
                problems.append(f"{p} has mode {mode:04o}")
    return problems


def make_private(path: Path) -> None:
    """``grading.make_private`` on ``path`` and everything below it (nbgrader's collect copies
    the modes students' hand-ins had in the exchange, up to 777)."""
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if not p.is_symlink():
            grading.make_private(p)


# ---------------------------------------------------------------------------------------------
# What the students' Python sees

# Run by the students' Python in an empty folder with an empty HOME: the Jupyter config it reads
# is then only what every student gets (system-wide and its own prefix). Its argument is the
# first module's package file, which no fresh student has completed.
_STUDENT_VIEW = r"""
import json, os, sys
sys.modules.setdefault("rfc3987_syntax", None)
out = {"python": sys.executable, "home": os.path.expanduser("~")}
try:
    from jupyter_core.paths import jupyter_config_path
    from nbgrader.apps import NbGrader
    app = NbGrader()
    app.config_file_paths.extend(jupyter_config_path())
    app.load_config_file()
    out["exchange"] = app.config.get("Exchange", {}).get("root")
    out["course_id"] = app.config.get("CourseDirectory", {}).get("course_id")
except Exception as err:
    out["config_error"] = f"{type(err).__name__}: {err}"
try:
    import importlib.util
    spec = importlib.util.find_spec("tinytorch")
    out["package"] = list(spec.submodule_search_locations) if spec else None
except Exception as err:
    out["package_error"] = f"{type(err).__name__}: {err}"
try:
    import importlib
    first = importlib.import_module(sys.argv[1])
    out["first"] = first.__file__
except Exception as err:
    out["first_error"] = f"{type(err).__name__}: {err}"
print(json.dumps(out))
"""


def student_view(python: Path, edition: Path | None = None, timeout: float = 120) -> dict:
    """What the students' Python reports about its nbgrader config and its tinytorch.

    With ``edition``, the check runs through the launcher the hub's config uses: a fresh
    workspace is made in the empty HOME and put on the path, as for a student's first server
    start. Then ``workspace_leaks`` lists reference solutions found in that workspace's package.
    """
    if not Path(python).is_file():
        raise HubError(f"{python}: no such Python (pass the students' venv with "
                       f"--student-venv, e.g. /opt/tinytorch/student-venv)")
    check = [str(python), "-c", _STUDENT_VIEW, f"tinytorch.{course.MODULES[0].target}"]
    if edition is not None:
        check = [str(python), "-I", "-m", "tito.hub_launch", "--edition", str(edition), "--",
                 *check]
    with tempfile.TemporaryDirectory(prefix="tito-student-view-") as home:
        env = {"HOME": home, "PATH": f"{Path(python).parent}{os.pathsep}/usr/bin:/bin",
               "LANG": os.environ.get("LANG", "C.UTF-8")}
        run = subprocess.run(check, cwd=home, env=env, capture_output=True, text=True,
                             timeout=timeout)
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            raise HubError(f"{python} could not run a check ({last})")
        view = json.loads(run.stdout.strip().splitlines()[-1])
        if edition is not None:
            ws = workspace.workspace_path(Path(home))
            view["workspace_leaks"] = package_leaks([str(ws / "tinytorch")]) \
                if (ws / "tinytorch").is_dir() else []
    return view


def package_leaks(package_dirs: list[str]) -> list[str]:
    """Files of a tinytorch package that hold a reference solution or hidden-test line."""
    texts = [m.source().read_text(encoding="utf-8") for m in grading.modules_with_source()]
    solutions, hidden = cellformat.secret_lines(texts)
    found = []
    for d in package_dirs:
        for f in sorted(Path(d).rglob("*.py")):
            hits = cellformat.leaked_lines(f.read_text(encoding="utf-8", errors="replace"),
                                           solutions | hidden)
            if hits:
                found.append(f"{f} ({len(hits)} line(s), e.g. {hits[0][:60]})")
    return found


def student_env_checks(python: Path, expected_exchange: Path | None = None) -> list[Check]:
    view = student_view(python)
    checks = []
    exchange = view.get("exchange")
    course_id = view.get("course_id")
    fix_cfg = ("install the file `tito nbgrader hub setup` wrote, with the command it printed")
    if "config_error" in view:
        checks.append(Check("students' nbgrader", False, view["config_error"],
                            f"install nbgrader in the students' venv ({python})"))
    else:
        same = exchange and (expected_exchange is None
                             or Path(exchange).resolve() == expected_exchange.resolve())
        checks.append(Check("exchange seen by students", bool(same),
                            str(exchange or "no c.Exchange.root in their Jupyter config")
                            + ("" if same or not exchange else
                               f", but the course uses {expected_exchange}"), fix_cfg))
        checks.append(Check("course id seen by students", course_id == grading.COURSE_ID,
                            str(course_id or "none (they would need --course)"), fix_cfg))
        if exchange and not same:
            problem = exchange_problem(Path(exchange))
            checks.append(Check("students' exchange", problem is None, problem or
                                f"{exchange} (mode "
                                f"{stat.S_IMODE(Path(exchange).stat().st_mode):04o})",
                                f"run `{root_command(Path(exchange))}` as root"))
    package = view.get("package")
    fix_env = ("make the students' venv from the student edition: `tito release student --out "
               "DIR`, then `VENV/bin/pip install 'DIR[hub]'`")
    if not package:
        checks.append(Check("students' tinytorch", False,
                            view.get("package_error", f"not installed for {python}"), fix_env))
        return checks
    inside = [d for d in package if Path(d).resolve().is_relative_to(course.REPO_ROOT)]
    leaks = package_leaks(package)
    ok = not inside and not leaks
    if inside:
        found = f"imports the instructor's package at {inside[0]}"
    elif leaks:
        found = "reference solutions in " + "; ".join(leaks[:3])
    else:
        first = f"tinytorch.{course.MODULES[0].target}"
        error = view.get("first_error", "?").split(":")[0]
        loaded = (f"its {first} is {view['first']}" if view.get("first")
                  else f"import {first} raises {error}")
        found = f"{package[0]} holds no reference solution; {loaded}"
    checks.append(Check("students' tinytorch", ok, found, fix_env))
    return checks


def workspace_check(python: Path, edition: Path | None) -> Check:
    """What a new student's server start gives: their own workspace, first on the path."""
    name = "students' workspace"
    if edition is None:
        return Check(name, False, "the hub's config names no student edition to copy",
                     "run `tito nbgrader hub setup ... --edition DIR` again and restart the hub")
    problem = edition_problem(edition)
    if problem:
        return Check(name, False, problem, f"run `chmod -R a+rX {edition}` as root, or make "
                                           f"the edition again with `tito release student`")
    fix = ("install the student edition into the students' venv again (`VENV/bin/pip install "
           "'DIR[hub]'`, DIR made by this repository's `tito release student --out DIR`): its "
           "tito has the launcher, tito.hub_launch")
    try:
        view = student_view(python, edition)
    except (HubError, subprocess.TimeoutExpired, ValueError) as err:
        return Check(name, False, f"the launcher failed: {err}", fix)
    home = Path(view["home"])
    ws = workspace.workspace_path(home)
    package = [Path(d) for d in view.get("package") or []]
    first = course.MODULES[0]
    said = view.get("first_error") or f"imports {view.get('first')}"
    inside = bool(package) and package[0].is_relative_to(ws)
    needs = f"tito module complete {first.number}" in said
    leaks = view.get("workspace_leaks", [])
    shown = (f"~/{package[0].relative_to(home).as_posix()}" if package and
             package[0].is_relative_to(home) else str(package[0] if package else "nothing"))
    if leaks:
        found = "reference solutions in the workspace: " + "; ".join(leaks[:2])
    elif not inside:
        found = (f"through the launcher, tinytorch resolves to {shown}, not to the new "
                 f"~/{workspace.WORKSPACE_NAME}/tinytorch")
    elif not needs:
        found = (f"in a new workspace, import tinytorch.{first.target} "
                 f"{'raises ' if view.get('first_error') else ''}{said}, not an error naming "
                 f"module {first.number}")
    else:
        found = (f"a new student's server makes ~/{workspace.WORKSPACE_NAME} from {edition}; "
                 f"tinytorch resolves to {shown}; import tinytorch.{first.target} says "
                 f"\"{said.split(':', 1)[-1].strip()}\"")
    return Check(name, inside and needs and not leaks, found, fix)


def runnable_by_others(python: Path) -> bool:
    """True when accounts other than the owner can run this interpreter (and read its stdlib)."""
    real = Path(python).resolve()
    folders = [real.parent]
    if real.parent.name == "bin":
        folders.append(real.parent.parent / "lib")
    for folder in folders:
        for p in [folder, *folder.parents]:
            if p.exists() and not stat.S_IMODE(p.stat().st_mode) & 0o001:
                return False
    return bool(stat.S_IMODE(real.stat().st_mode) & 0o001)


def readable_by_others(path: Path) -> bool:
    """True when an account other than the owner (and not in its group) can list ``path``."""
    path = path.resolve()
    for parent in reversed(path.parents):
        if not stat.S_IMODE(parent.stat().st_mode) & 0o001:
            return False
    return bool(stat.S_IMODE(path.stat().st_mode) & 0o005 == 0o005)


def doctor_checks(root: Path, student_venv: Path | None) -> list[Check]:
    """Every check of a hub deployment, in the order an instructor fixes them."""
    checks: list[Check] = []
    try:
        exchange = configured_exchange(root)
    except HubError as err:
        checks.append(Check("hub set-up", False, str(err).split(":")[0],
                            "run `tito nbgrader hub setup --exchange DIR --student-venv VENV "
                            "--edition DIR`"))
        exchange = None
    if exchange is not None:
        problem = exchange_problem(exchange)
        checks.append(Check("exchange", problem is None,
                            problem or f"{exchange}, mode "
                                       f"{stat.S_IMODE(exchange.stat().st_mode):04o}",
                            f"run `{root_command(exchange)}` as root"))
    problems = privacy_problems(root)
    checks.append(Check("course directory private", not problems,
                        "; ".join(problems[:4]) + (f" (+{len(problems) - 4} more)"
                                                   if len(problems) > 4 else "")
                        if problems else f"{root}, its gradebook, grades and submissions are "
                                         f"readable by {owner(root)} only",
                        f"chmod -R go-rwx {root}"))
    modules = course.REPO_ROOT / "modules"
    open_sources = readable_by_others(modules)
    who = "every account" if open_sources else "the owner only"
    checks.append(Check("module sources private", not open_sources,
                        f"{modules} (with the reference solutions) is readable by {who}",
                        f"chmod 700 {course.REPO_ROOT}"))
    if student_venv is None:
        checks.append(Check("students' environment", False, "not given",
                            "pass --student-venv VENV (the venv the hub's spawner runs)"))
    else:
        python = student_venv / "bin" / "python"
        if python.exists() and not runnable_by_others(python):
            checks.append(Check("students' Python", False,
                                f"{python} is {python.resolve()}, in a folder other accounts "
                                f"cannot open", "make the venv from a Python every account "
                                f"can run, e.g. `/usr/bin/python3 -m venv {student_venv}`"))
        try:
            checks += student_env_checks(python, exchange)
        except (HubError, subprocess.TimeoutExpired) as err:
            checks.append(Check("students' environment", False, str(err),
                                "make the students' venv as the README shows"))
        else:
            checks.append(workspace_check(python, configured_edition(root)))
    return checks


def owner(path: Path) -> str:
    import pwd

    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
