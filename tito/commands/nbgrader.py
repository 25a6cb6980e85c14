"""`tito nbgrader`: the instructor workflow, from module sources to a grades CSV.

    tito nbgrader init [DIR]                 course directory + nbgrader config
    tito nbgrader generate NN|--all          modules/ -> source/ -> release/ (student notebooks)
    tito nbgrader collect NN PATH...         hand-ins from a plain folder -> submitted/
    tito nbgrader autograde NN|--all         grade submitted/<student>/NN_name/
    tito nbgrader feedback NN|--all          feedback/<student>/NN_name/name.html
    tito nbgrader export                     grades.csv
    tito nbgrader status                     assignments, submissions, average scores

Every step runs nbgrader itself in a separate process. Exit codes: 0 everything done, 1 some
step or submission failed (named in the output), 2 bad input.
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Callable

from tito import course
from tito import autograde, grading

OK, FAILED, BAD_INPUT = 0, 1, 2


def _shown(path: Path) -> str:
    """A path as short as it can be shown: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _guard(step: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    @functools.wraps(step)
    def run(args: argparse.Namespace) -> int:
        try:
            return step(args)
        except (grading.GradingError, course.CourseError) as err:
            print(f"tito: {err}", file=sys.stderr)
            return BAD_INPUT
    return run


def _console():
    from rich.console import Console

    # Into a file or a pipe, a table row stays one line however long its notes are.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 1000)


def _tail(run: grading.Run, n: int = 15) -> None:
    """The end of a failed nbgrader run, so the reason is on screen without opening the log."""
    interesting = [ln for ln in run.lines if "| ERROR]" in ln or "Error" in ln]
    for line in (interesting or run.lines)[-n:]:
        print("    " + line)
    print(f"    full nbgrader output: {_shown(run.log)}")


# ---------------------------------------------------------------------------------------------


@_guard
def cmd_init(args: argparse.Namespace) -> int:
    root = grading.course_dir(args.dir or args.course)
    due = grading.parse_due(args.due or [])
    wrote = grading.init_course(root, timeout=args.timeout, force=args.force)
    if due:
        grading.set_due_dates(root, due)
        grading.apply_due_dates(root)
        for aid, when in sorted(due.items()):
            print(f"  due: {aid} at {when} (late work: LatePenaltyPerDay.per_day in "
                  f"{grading.CONFIG_NAME}, 10% of the score per started day unless changed)")
    config = root / grading.CONFIG_NAME
    if wrote:
        print(f"course directory ready: {_shown(root)}")
        print(f"  wrote {_shown(config)} (per-cell timeout {args.timeout} s, kernel python3)")
    else:
        print(f"course directory ready: {_shown(root)}")
        print(f"  kept the existing {_shown(config)} (pass --force to rewrite it)")
    course_opt = "" if root == grading.DEFAULT_COURSE_DIR else f" --course {_shown(root)}"
    print(f"next: tito nbgrader generate --all{course_opt}")
    return OK


@_guard
def cmd_generate(args: argparse.Namespace) -> int:
    root = grading.require_course(grading.course_dir(args.course))
    modules = grading.select_modules(args.modules, args.all)
    failed = []
    for m in modules:
        aid = grading.assignment_id(m)
        src = grading.write_source(root, m)
        print(f"{aid}: {_shown(src)} from {m.source().relative_to(course.REPO_ROOT).as_posix()}")
        run = grading.run_nbgrader(root, ["generate_assignment", aid, "--force"],
                                   f"generate_{aid}")
        if run.returncode != 0:
            print(f"{aid}: nbgrader generate_assignment failed (exit {run.returncode})")
            _tail(run)
            failed.append(aid)
            continue
        grading.make_private(root / "gradebook.db")
        grading.apply_due_dates(root)
        leaks = grading.release_leaks(root, m)
        if leaks:
            print(f"{aid}: the release is NOT safe to hand out:")
            for leak in leaks[:20]:
                print(f"    {leak}")
            failed.append(aid)
            continue
        release = root / "release" / aid / grading.notebook_name(m)
        print(f"{aid}: released {_shown(release)} (checked: no solution or hidden-test text)")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return FAILED
    print(f"generated {len(modules)} assignment(s); hand out {_shown(root / 'release')}")
    return OK


def _modules_with_release(root: Path, keys: list[str], all_: bool) -> list[course.Module]:
    if all_ and not keys:
        mods = [m for m in grading.modules_with_source() if grading.released(root, m)]
        if not mods:
            raise grading.GradingError("nothing has been released yet: run "
                                       "`tito nbgrader generate --all` first")
        return mods
    mods = grading.select_modules(keys, all_)
    for m in mods:
        if not grading.released(root, m):
            raise grading.GradingError(f"{grading.assignment_id(m)} has not been released: run "
                                       f"`tito nbgrader generate {m.number}` first")
    return mods


def _outcome_table(root: Path, m: course.Module, outcomes: list[autograde.Outcome]):
    from rich.markup import escape
    from rich.table import Table

    n_tests = len(grading.graded_ids(root, m))
    table = Table(title=f"{grading.assignment_id(m)} autograded", title_justify="left")
    table.add_column("student", no_wrap=True)
    table.add_column("score", no_wrap=True, justify="right")
    table.add_column("status")
    table.add_column("notes")
    for o in outcomes:
        notes = [] if o.graded_now else ["unchanged since the last run (kept)"]
        notes += o.notes
        if o.failed and len(o.failed) == n_tests:
            notes.append("failed: every test")
        elif o.failed:
            notes.append("failed: " + ", ".join(o.failed))
        score = "-" if o.score is None else f"{o.score:g} / {o.max_score:g}"
        colour = {"ok": "green", "review": "yellow"}.get(o.kind, "red")
        table.add_row(o.student, score, f"[{colour}]{escape(o.status)[:300]}[/{colour}]",
                      escape("; ".join(notes)))
    return table


def _autograde_all(root: Path, modules: list[course.Module], args: argparse.Namespace,
                   console) -> list[autograde.Outcome]:
    """Grade every module's submissions under one progress bar; print a table per module."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.progress import TimeElapsedColumn

    work = []
    for m in modules:
        aid = grading.assignment_id(m)
        students = grading.submitted_students(root, m, args.student)
        if students:
            work.append((m, students))
        else:
            who = f"from '{args.student}' " if args.student else ""
            console.print(f"{aid}: no submissions {who}under "
                          f"{_shown(root / 'submitted')}/<student>/{aid}/")
    if not work:
        return []
    where = f"Dask at {args.scheduler}" if args.scheduler else f"{args.jobs} process(es)"
    sandboxed = "UNSANDBOXED" if args.unsafe_no_sandbox else "sandboxed"
    total = sum(len(students) for _, students in work)
    console.print(f"{', '.join(grading.assignment_id(m) for m, _ in work)}: {total} "
                  f"submission(s), {sandboxed} kernels, {where}")
    counts = {"ok": 0, "review": 0, "not graded": 0}
    results: list[tuple[course.Module, list[autograde.Outcome]]] = []
    with Progress(TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("preparing", total=total)

        def on_done(o: autograde.Outcome) -> None:
            counts[o.kind] += 1
            bar.update(task, advance=1, description=(
                f"ok {counts['ok']}  review {counts['review']}  "
                f"not graded {counts['not graded']}"))

        for m, students in work:
            outcomes = autograde.autograde(
                root, m, students, jobs=args.jobs, scheduler=args.scheduler,
                use_sandbox=not args.unsafe_no_sandbox, force=args.force, on_done=on_done)
            results.append((m, outcomes))
    every = []
    for m, outcomes in results:
        console.print(_outcome_table(root, m, outcomes))
        kept = sum(not o.graded_now for o in outcomes)
        if kept:
            console.print(f"{grading.assignment_id(m)}: {kept} unchanged submission(s) kept "
                          f"from the last run (--force grades them again)")
        every += outcomes
    return every


@_guard
def cmd_collect(args: argparse.Namespace) -> int:
    root = grading.require_course(grading.course_dir(args.course))
    m = course.get_module(args.module)
    handins = grading.find_handins(m, [Path(p) for p in args.paths], args.student)
    if not handins:
        raise grading.GradingError(f"no notebooks found in {', '.join(args.paths)} (expected "
                                   f"<student>.ipynb files or <student>/"
                                   f"{grading.notebook_name(m)} folders)")
    replaced = grading.collect(root, m, handins)
    aid = grading.assignment_id(m)
    for who, path in handins:
        note = " (replaced the earlier one)" if who in replaced else ""
        print(f"{who}: {_shown(path)}{note}")
    print(f"collected {len(handins)} submission(s) into "
          f"{_shown(root / 'submitted')}/<student>/{aid}/")
    if not grading.released(root, m):
        print(f"note: {aid} has not been released yet: run `tito nbgrader generate {m.number}` "
              f"before autograding")
    return OK


@_guard
def cmd_autograde(args: argparse.Namespace) -> int:
    root = grading.require_course(grading.course_dir(args.course))
    modules = _modules_with_release(root, args.modules, args.all)
    if args.jobs < 1:
        raise grading.GradingError(f"--jobs must be at least 1, got {args.jobs}")
    if args.student and not any(grading.submitted_students(root, m, args.student)
                                for m in modules):
        raise grading.GradingError(f"no submission from '{args.student}' under "
                                   f"{_shown(root / 'submitted')}")
    console = _console()
    if args.unsafe_no_sandbox:
        console.print("[bold red]WARNING: --unsafe-no-sandbox: student code runs as you, with "
                      "your files and network; every submission is marked for review[/bold red]")
    try:
        outcomes = _autograde_all(root, modules, args, console)
    except KeyboardInterrupt:
        print("interrupted: every finished submission is saved; run the same command again "
              "to grade the rest", file=sys.stderr)
        return 130
    counts = autograde.count_statuses(outcomes)
    print(f"graded {len(outcomes)} submission(s): {counts['ok']} ok, {counts['review']} to "
          f"review, {counts['not graded']} not graded")
    if outcomes:
        print("next: tito nbgrader feedback " + ("--all" if args.all else " ".join(
            m.number for m in modules)) + "   and   tito nbgrader export")
    return FAILED if counts["not graded"] else OK


@_guard
def cmd_feedback(args: argparse.Namespace) -> int:
    root = grading.require_course(grading.course_dir(args.course))
    modules = _modules_with_release(root, args.modules, args.all)
    bad = False
    for m in modules:
        aid = grading.assignment_id(m)
        graded = sorted(p.name for p in (root / "autograded").glob("*")
                        if (p / aid).is_dir() and args.student in (None, p.name))
        if not graded:
            print(f"{aid}: nothing autograded yet: run `tito nbgrader autograde {m.number}`")
            continue
        cmd = ["generate_feedback", aid, "--force", *grading.feedback_options()]
        if args.student:
            cmd += ["--student", args.student]
        run = grading.run_nbgrader(root, cmd, f"feedback_{aid}")
        if run.returncode != 0:
            print(f"{aid}: nbgrader generate_feedback failed (exit {run.returncode})")
            _tail(run)
            bad = True
        made, leaked = 0, []
        for s in graded:
            html = root / "feedback" / s / aid / grading.notebook_name(m).replace(
                ".ipynb", ".html")
            if not html.is_file():
                print(f"{aid}: no feedback for {s}")
                bad = True
                continue
            made += 1
            graded_nb = grading.graded_notebook(root, m, s)
            if grading.feedback_leaks(html, m) or (
                    graded_nb.is_file() and grading.output_leaks(graded_nb, m)):
                leaked.append(s)
        if leaked:
            print(f"{aid}: hidden tests visible in the feedback of {', '.join(leaked)}; "
                  f"do not hand it out (check ClearHiddenTests in {grading.CONFIG_NAME})")
            bad = True
        checked = "NOT safe to hand out" if leaked else "checked: no hidden tests"
        print(f"{aid}: feedback for {made} student(s) in "
              f"{_shown(root / 'feedback')}/<student>/{aid}/ ({checked})")
    return FAILED if bad else OK


@_guard
def cmd_export(args: argparse.Namespace) -> int:
    from tito import grade_export
    from tito.progress import atomic_write_text

    root = grading.require_course(grading.course_dir(args.course))
    if not (root / "gradebook.db").is_file():
        raise grading.GradingError("no gradebook yet: run `tito nbgrader generate` first")
    default = {"nbgrader": "grades.csv", "canvas": "grades_canvas.csv"}[args.format]
    dest = Path(args.to).expanduser().resolve() if args.to else root / default
    table = grade_export.rows(root)
    text = (grade_export.canvas_csv(table) if args.format == "canvas"
            else grade_export.nbgrader_csv(table))
    atomic_write_text(dest, text)
    grading.make_private(dest)
    students = {r["student_id"] for r in table}
    assignments = {r["assignment"] for r in table}
    ungraded = sum(r["status"].startswith("not graded") for r in table)
    review = sum(r["status"].startswith("review") for r in table)
    print(f"wrote {_shown(dest)} ({args.format}): {len(students)} student(s), "
          f"{len(assignments)} assignment(s); {review} to review, {ungraded} not graded "
          f"(empty score, reason in the status column)")
    if args.cells:
        cells = dest.with_name(dest.stem + "_cells.csv")
        atomic_write_text(cells, grade_export.cells_csv(root))
        grading.make_private(cells)
        print(f"wrote {_shown(cells)}: one row per graded cell of every submission")
    return OK


@_guard
def cmd_status(args: argparse.Namespace) -> int:
    from rich.table import Table

    root = grading.require_course(grading.course_dir(args.course))
    console = _console()
    table = Table(title=f"nbgrader course {_shown(root)}", title_justify="left")
    table.add_column("assignment", no_wrap=True)
    for col in ("released", "submitted", "graded", "feedback", "average", "max"):
        table.add_column(col, justify="right")
    have_db = (root / "gradebook.db").is_file()
    for m in course.MODULES:
        aid = grading.assignment_id(m)
        if not (m.source().is_file() or grading.released(root, m)):
            continue
        submitted = grading.submitted_students(root, m)
        autograded = [s for s in submitted if grading.graded_notebook(root, m, s).is_file()]
        feedback = [s for s in submitted
                    if (root / "feedback" / s / aid).is_dir()]
        marks = grading.scores(root, m) if have_db else {}
        graded_marks = [marks[s][0] for s in autograded if s in marks]
        average = f"{sum(graded_marks) / len(graded_marks):.1f}" if graded_marks else "-"
        total = grading.max_score(root, m) if have_db else None
        top = "-" if total is None else f"{total:g}"
        table.add_row(aid, "yes" if grading.released(root, m) else "no", str(len(submitted)),
                      str(len(autograded)), str(len(feedback)), average, top)
    console.print(table)
    if not have_db:
        console.print("no gradebook yet: run `tito nbgrader generate --all`")
    return OK


# ---------------------------------------------------------------------------------------------


def _course_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--course", metavar="DIR", default=None,
                   help="the nbgrader course directory (default: nbgrader_course/ in the "
                        "repository)")


def _modules_option(p: argparse.ArgumentParser, all_help: str) -> None:
    p.add_argument("modules", nargs="*", metavar="NN", help="module numbers or names")
    p.add_argument("--all", action="store_true", help=all_help)


def register(sub: argparse._SubParsersAction) -> None:
    top = sub.add_parser(
        "nbgrader", help="instructor workflow: release, autograde, feedback, grades",
        description="Release the modules as nbgrader assignments and grade the submissions. "
                    "See 'For instructors' in the README.")
    steps = top.add_subparsers(dest="step", metavar="STEP")
    top.set_defaults(func=lambda _args: (top.print_help(), OK)[1])

    p = steps.add_parser("init", help="create an nbgrader course directory for this course")
    p.add_argument("dir", nargs="?", default=None,
                   help="where to create it (default: nbgrader_course/ in the repository)")
    _course_option(p)
    p.add_argument("--timeout", type=int, default=grading.DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"time limit per cell when autograding (default "
                        f"{grading.DEFAULT_TIMEOUT})")
    p.add_argument("--force", action="store_true", help="rewrite an existing nbgrader_config.py")
    p.add_argument("--due", action="append", metavar="NN=WHEN",
                   help="a module's due date, e.g. 01=2027-02-01T23:59 (UTC unless the time "
                        "names its zone); repeat for each module. Late hand-ins lose 10%% of "
                        "their score per started day (AssignLatePenalties in the config)")
    p.set_defaults(func=cmd_init)

    p = steps.add_parser("generate", help="module sources -> student notebooks in release/")
    _modules_option(p, "every module that has a source")
    _course_option(p)
    p.set_defaults(func=cmd_generate)

    p = steps.add_parser("collect", help="put hand-ins from a folder into submitted/")
    p.add_argument("module", metavar="NN", help="module number or name")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="<student>.ipynb files, or folders of them (or of <student>/ folders)")
    p.add_argument("--student", metavar="ID", default=None,
                   help="the student who handed in the single file given")
    _course_option(p)
    p.set_defaults(func=cmd_collect)

    p = steps.add_parser("autograde", help="grade the submissions in submitted/")
    _modules_option(p, "every released module")
    _course_option(p)
    p.add_argument("--student", metavar="ID", default=None, help="grade only this student")
    p.add_argument("--force", action="store_true",
                   help="grade again submissions that have not changed since the last run")
    p.add_argument("--jobs", type=int, default=autograde.default_jobs(), metavar="N",
                   help="submissions graded at once, each in its own sandboxed worker "
                        "(default: the number of cores)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="send the work to a Dask cluster (e.g. tcp://10.0.0.5:8786) instead "
                        "of local processes")
    p.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="run student code WITHOUT the sandbox (only for a machine where "
                        "bubblewrap cannot run, and only for submissions you trust)")
    p.set_defaults(func=cmd_autograde)

    p = steps.add_parser("feedback", help="feedback HTML for graded submissions")
    _modules_option(p, "every released module")
    _course_option(p)
    p.add_argument("--student", metavar="ID", default=None, help="only this student")
    p.set_defaults(func=cmd_feedback)

    p = steps.add_parser("export", help="write every grade to a CSV file")
    _course_option(p)
    p.add_argument("--to", metavar="FILE", default=None,
                   help="the CSV file (default: grades.csv, or grades_canvas.csv with "
                        "--format canvas, in the course directory)")
    p.add_argument("--format", choices=("nbgrader", "canvas"), default="nbgrader",
                   help="nbgrader's columns plus status (default), or Canvas's gradebook "
                        "import layout (one row per student, one column per assignment)")
    p.add_argument("--cells", action="store_true",
                   help="also write FILE_cells.csv: the score of every graded cell")
    p.set_defaults(func=cmd_export)

    p = steps.add_parser("status", help="assignments, submissions and average scores")
    _course_option(p)
    p.set_defaults(func=cmd_status)

    from tito.commands import hub  # the JupyterHub steps live in their own file
    hub.register(steps)
