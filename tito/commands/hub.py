"""`tito nbgrader hub`: the course on a shared JupyterHub, through nbgrader's exchange.

    tito nbgrader hub setup --exchange DIR --student-venv VENV --edition DIR [--student NAME ...]
    tito nbgrader hub release NN       nbgrader release_assignment (students see it in Assignments)
    tito nbgrader hub collect NN       nbgrader collect, then the submissions made instructor-only
    tito nbgrader hub return NN        nbgrader release_feedback (students fetch their feedback)
    tito nbgrader hub doctor --student-venv VENV

Exit codes as for every tito command: 0 done, 1 a step or check failed, 2 bad input.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tito import course, grading, hub, workspace

OK, FAILED, BAD_INPUT = 0, 1, 2


def _guarded(step):
    def run(args: argparse.Namespace) -> int:
        try:
            return step(args)
        except (hub.HubError, grading.GradingError, course.CourseError) as err:
            print(f"tito: {err}", file=sys.stderr)
            return BAD_INPUT
    run.__doc__ = step.__doc__
    return run


def _root(args: argparse.Namespace) -> Path:
    return grading.require_course(grading.course_dir(args.course))


def _venv(value: str | None) -> Path | None:
    if value is None:
        return None
    venv = Path(value).expanduser().absolute()
    if not (venv / "bin" / "python").exists():
        raise hub.HubError(f"{venv} is not a venv (no bin/python): make it with "
                           f"`python3 -m venv {venv}` and install the student edition into it")
    return venv


@_guarded
def cmd_setup(args: argparse.Namespace) -> int:
    root = _root(args)
    venv = _venv(args.student_venv)
    edition = hub.check_edition(Path(args.edition))
    exchange = Path(args.exchange).expanduser().absolute()
    print(f"exchange: {hub.ensure_exchange(exchange)}")
    student_cfg, hub_cfg = hub.write_configs(root, exchange, venv, args.student, edition)
    print(f"wrote {student_cfg}")
    print(f"  the students' nbgrader config (exchange {exchange}, course "
          f"{grading.COURSE_ID}); install it for every student, as root:")
    print(f"    {hub.install_command(student_cfg, venv)}")
    print(f"wrote {hub_cfg}")
    print(f"  a JupyterHub config whose servers run {venv}, each student's with their own "
          f"~/{workspace.WORKSPACE_NAME} copied from {edition}; start the hub as root:")
    print(f"    {venv}/bin/jupyterhub -f {hub_cfg}")
    print(f"next: tito nbgrader generate 01 && tito nbgrader hub release 01"
          f"{'' if root == grading.DEFAULT_COURSE_DIR else ' --course ' + str(root)}")
    return OK


def _nbgrader_step(args: argparse.Namespace, step: str, verb: str) -> tuple[Path, int]:
    root = _root(args)
    m = course.get_module(args.module)
    aid = grading.assignment_id(m)
    if not grading.released(root, m):
        raise grading.GradingError(f"{aid} has not been generated: run "
                                   f"`tito nbgrader generate {m.number}` first")
    cmd = [step, aid, *hub.exchange_options(root)] + (["--force"] if args.force else [])
    run = grading.run_nbgrader(root, cmd, f"hub_{step}_{aid}")
    if run.returncode != 0:
        print(f"{aid}: nbgrader {step} failed (exit {run.returncode})")
        for line in (run.errors or run.lines)[-10:]:
            print("    " + line)
        print(f"    full nbgrader output: {run.log}")
        return root, FAILED
    print(f"{aid}: {verb} ({hub.configured_exchange(root)})")
    return root, OK


@_guarded
def cmd_release(args: argparse.Namespace) -> int:
    return _nbgrader_step(args, "release_assignment", "released to the exchange")[1]


@_guarded
def cmd_collect(args: argparse.Namespace) -> int:
    root, rc = _nbgrader_step(args, "collect", "collected into submitted/")
    submitted = root / "submitted"
    if submitted.is_dir():
        hub.make_private(submitted)
    students = grading.submitted_students(root, course.get_module(args.module))
    print(f"{len(students)} submission(s) in {submitted}, readable by "
          f"{hub.owner(root)} only")
    return rc


@_guarded
def cmd_return(args: argparse.Namespace) -> int:
    return _nbgrader_step(args, "release_feedback", "feedback released; students run "
                          "fetch_feedback or use the Assignments tab")[1]


@_guarded
def cmd_doctor(args: argparse.Namespace) -> int:
    root = _root(args)
    checks = hub.doctor_checks(root, _venv(args.student_venv))
    for c in checks:
        print(c)
    bad = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(bad)} of {len(checks)} checks passed")
    return FAILED if bad else OK


def register(steps: argparse._SubParsersAction) -> None:
    """Add `hub` to the steps of `tito nbgrader`."""
    top = steps.add_parser("hub", help="run the course on a JupyterHub through nbgrader's exchange",
                           description="Set up, check and run the course on a shared "
                                       "JupyterHub. See 'Deploying on JupyterHub' in the README.")
    acts = top.add_subparsers(dest="hub_step", metavar="ACTION")
    top.set_defaults(func=lambda _args: (top.print_help(), OK)[1])

    def course_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--course", metavar="DIR", default=None,
                       help="the nbgrader course directory (default: nbgrader_course/)")

    p = acts.add_parser("setup", help="exchange folder + the students' and the hub's config")
    p.add_argument("--exchange", metavar="DIR", default=str(hub.DEFAULT_EXCHANGE),
                   help=f"nbgrader's exchange (default {hub.DEFAULT_EXCHANGE}; creating it "
                        f"usually needs root)")
    p.add_argument("--student-venv", metavar="VENV", required=True,
                   help="the venv with the student edition that students' servers run")
    p.add_argument("--edition", metavar="DIR", required=True,
                   help="the student edition made by `tito release student --out DIR`, readable "
                        f"by every account: each student's server copies it, the first time, "
                        f"into ~/{workspace.WORKSPACE_NAME}")
    p.add_argument("--student", metavar="NAME", action="append", default=[],
                   help="a student's Unix account (repeat; goes into the hub's allowed users)")
    course_opt(p)
    p.set_defaults(func=cmd_setup)

    for name, func, text in (("release", cmd_release, "release an assignment to the exchange"),
                             ("collect", cmd_collect, "collect hand-ins from the exchange"),
                             ("return", cmd_return, "release feedback to the exchange")):
        p = acts.add_parser(name, help=text)
        p.add_argument("module", metavar="NN", help="module number or name")
        p.add_argument("--force", action="store_true", help="nbgrader's --force")
        course_opt(p)
        p.set_defaults(func=func)

    p = acts.add_parser("doctor", help="check the exchange, the students' config, "
                                       "environment and workspace, and the course "
                                       "directory's privacy")
    p.add_argument("--student-venv", metavar="VENV", default=None,
                   help="the venv the hub's spawner runs for students")
    course_opt(p)
    p.set_defaults(func=cmd_doctor)
