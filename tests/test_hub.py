"""The course on a real JupyterHub, end to end (`tito nbgrader hub`).

One module-scoped run: a students' venv made from the student edition, two throwaway Unix
accounts, nbgrader's exchange, JupyterHub with configurable-http-proxy and the local process
spawner on 127.0.0.1. Each student's server makes the student's own workspace
(~/tinytorch-course) as it starts. Module 01 is released; each student fetches it into the
workspace, edits and submits as that account; the instructor (the account running the tests)
collects, autogrades, returns feedback, and each student fetches it. One student completes
module 01 and then module 02 with their own module 01, which a kernel of their server imports.
Then the hub's REST API and the file permissions are checked.

It needs root (to add accounts and to let the hub start servers as them), useradd/userdel and
runuser, and configurable-http-proxy on PATH (`npm install -g configurable-http-proxy`); it
skips naming what is missing otherwise. Accounts, processes and files it made are removed even
when a step fails.

The quick tests at the end check the hub helpers without any account.
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers import REPO
from tito import course, grading, hub, hub_launch, progress, workspace

MODULE, NEXT = course.MODULES[0], course.MODULES[1]
AID = grading.assignment_id(MODULE)
NOTEBOOK = grading.notebook_name(MODULE)
BIN = Path(sys.executable).parent
NEEDS_FIRST = f"tito module complete {MODULE.number}"


def _missing() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root: it adds two Unix accounts and the hub starts servers as them"
    for tool in ("useradd", "userdel", "runuser"):
        if shutil.which(tool) is None:
            return f"needs `{tool}` to make throwaway student accounts"
    if _shared_python() is None:
        return (f"needs a Python 3.10+ with venv that every account can run ({sys.executable} "
                f"is in a private folder and /usr/bin/python3 is missing or unusable)")
    if shutil.which("configurable-http-proxy") is None:
        return ("needs configurable-http-proxy on PATH: "
                "`npm install -g configurable-http-proxy`")
    return None


def _shared_python() -> Path | None:
    """A Python every account can run: this one, unless it lives in a private folder."""
    for candidate in (Path(sys.executable).resolve(), Path("/usr/bin/python3")):
        if candidate.is_file() and hub.runnable_by_others(candidate):
            probe = _run([str(candidate), "-c", "import sys, venv, ensurepip; "
                          "sys.exit(sys.version_info < (3, 10))"])
            if probe.returncode == 0:
                return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def _tito(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return _run([str(BIN / "tito"), *args], timeout=timeout, cwd=REPO)


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (f"{proc.args} exited {proc.returncode}\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _pids_of_uid(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
            except FileNotFoundError:
                pass
    return pids


def _processes_of(uid: int) -> list[tuple[list[str], dict[str, str]]]:
    """(argv, environment) of every process running as ``uid``."""
    out = []
    for pid in _pids_of_uid(uid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            continue
        env = dict(kv.decode().split("=", 1) for kv in raw if b"=" in kv)
        out.append(([a.decode() for a in argv if a], env))
    return out


class Student:
    def __init__(self, name: str, home: Path, venv: Path):
        self.name, self.home, self.venv = name, home, venv

    @property
    def uid(self) -> int:
        import pwd

        return pwd.getpwnam(self.name).pw_uid

    @property
    def workspace(self) -> Path:
        return workspace.workspace_path(self.home)

    def run(self, *cmd: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """A command as this student, from their home, with the environment their server's
        terminals have: only the students' venv on PATH, their workspace on PYTHONPATH."""
        env = ["env", "-i", f"HOME={self.home}", f"USER={self.name}", "LANG=C.UTF-8",
               f"PATH={self.venv}/bin:/usr/bin:/bin", f"PYTHONPATH={self.workspace}"]
        return _run(["runuser", "-u", self.name, "--", *env, *cmd], timeout=timeout,
                    cwd=self.home)

    def can_read(self, path: Path) -> bool:
        code = ("import os, sys; p = sys.argv[1]\n"
                "os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(1)")
        return self.run("python", "-c", code, str(path)).returncode == 0

    def can_write_into(self, folder: Path) -> bool:
        code = "import sys; open(sys.argv[1] + '/intruder.txt', 'w').write('x')"
        return self.run("python", "-c", code, str(folder)).returncode == 0


# ---------------------------------------------------------------------------------------------
# The deployment, built once for the module's tests and torn down in reverse order


@pytest.fixture(scope="module")
def base(request):
    reason = _missing()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="tito-hub-"))
    os.chmod(root, 0o755)  # other accounts reach what the test opens to them, and no more
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    return root


@pytest.fixture(scope="module")
def student_venv(base):
    """The students' venv: the student edition with the `hub` extra, as the README says."""
    edition = base / "edition"
    _ok(_tito("release", "student", "--out", str(edition)))
    venv = base / "student-venv"
    # Students run this venv's Python: it must come from an interpreter they can read.
    _ok(_run([str(_shared_python()), "-m", "venv", str(venv)]))
    _ok(_run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
              "--disable-pip-version-check", f"{edition}[hub]"], timeout=900))
    # Every account reads both: the venv runs the servers, the edition is copied into each
    # student's workspace (`chmod -R a+rX`, as the README says).
    for p in [venv, *venv.rglob("*"), edition, *edition.rglob("*")]:
        if not p.is_symlink():
            os.chmod(p, stat.S_IMODE(p.stat().st_mode) | 0o044 | (0o011 if p.is_dir() else 0))
    return venv


@pytest.fixture(scope="module")
def students(base, student_venv, request):
    (base / "home").mkdir(mode=0o755)
    made: list[Student] = []

    def remove():
        for s in made:
            try:
                uid = s.uid
            except KeyError:  # already gone
                continue
            for pid in _pids_of_uid(uid):
                _kill(pid)
            subprocess.run(["userdel", "--remove", s.name], capture_output=True)
    request.addfinalizer(remove)
    tag = secrets.token_hex(2)
    for i in (1, 2):
        name = f"tthub{tag}s{i}"
        home = base / "home" / name
        _ok(_run(["useradd", "--create-home", "--home-dir", str(home), "--shell", "/bin/sh",
                  "--user-group", name]))
        made.append(Student(name, home, student_venv))
        os.chmod(home, 0o700)
    return made


@pytest.fixture(scope="module")
def course_dir(base, student_venv, students):
    root = base / "course"
    _ok(_tito("nbgrader", "init", str(root)))
    out = _ok(_tito("nbgrader", "hub", "setup", "--course", str(root),
                    "--exchange", str(base / "exchange"), "--student-venv", str(student_venv),
                    "--edition", str(base / "edition"),
                    *[a for s in students for a in ("--student", s.name)]))
    # The install command setup printed, run as root (this test already is root: no sudo).
    install = next(ln.strip() for ln in out.splitlines() if ln.strip().startswith("sudo install"))
    _ok(_run(install.split()[1:]))
    _ok(_tito("nbgrader", "generate", MODULE.number, "--course", str(root)))
    return root


@pytest.fixture(scope="module")
def jupyterhub(base, course_dir, student_venv, students, request):
    """JupyterHub from the config setup wrote, with test-only login and ports on 127.0.0.1."""
    state = base / "hub-state"
    state.mkdir(mode=0o700)
    token = secrets.token_hex(24)
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    config = (hub.hub_folder(course_dir) / hub.HUB_CONFIG).read_text(encoding="utf-8")
    config += f"""
# ---- test only: no PAM passwords, fixed local ports, a service token to drive the REST API
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {secrets.token_hex(16)!r}
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = {str(state / "proxy.pid")!r}
c.JupyterHub.db_url = "sqlite:///{state / 'hub.sqlite'}"
c.JupyterHub.cookie_secret_file = {str(state / "cookie_secret")!r}
c.JupyterHub.services = [{{"name": "course-test", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "course-test", "services": ["course-test"],
                            "scopes": ["admin:users", "admin:servers", "tokens"]}}]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
"""
    cfg = state / "jupyterhub_config.py"
    cfg.write_text(config, encoding="utf-8")
    log = open(state / "hub.log", "w")
    proc = subprocess.Popen([str(student_venv / "bin" / "jupyterhub"), "-f", str(cfg)],
                            cwd=state, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)

    def stop():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                _kill(proc.pid)
                proc.wait(10)
        pid_file = state / "proxy.pid"
        if pid_file.is_file():
            text = pid_file.read_text().strip()
            if text.isdigit():
                _kill(int(text))
        log.close()
    request.addfinalizer(stop)

    api = HubAPI(f"http://127.0.0.1:{port}", token, state / "hub.log", proc)
    api.wait_up()
    return api


class HubAPI:
    def __init__(self, url: str, token: str, log: Path, proc: subprocess.Popen):
        self.url, self.token, self.log, self.proc = url, token, log, proc

    def call(self, method: str, path: str, token: str | None = None, body=None,
             ) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"token {token or self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw or b"null")
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def why(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def wait_up(self, timeout: float = 90) -> None:
        end = time.time() + timeout
        while time.time() < end:
            assert self.proc.poll() is None, f"JupyterHub exited:\n{self.why()}"
            try:
                if self.call("GET", "/hub/api/")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"JupyterHub did not answer in {timeout} s:\n{self.why()}")

    def start_server(self, user: str, timeout: float = 150) -> None:
        status, body = self.call("POST", f"/hub/api/users/{user}/server")
        assert status in (201, 202), f"spawn {user}: {status} {body}\n{self.why()}"
        end = time.time() + timeout
        while time.time() < end:
            status, body = self.call("GET", f"/hub/api/users/{user}")
            server = (body or {}).get("servers", {}).get("", {}) if status == 200 else {}
            if server.get("ready"):
                return
            time.sleep(1)
        raise AssertionError(f"{user}'s server not ready in {timeout} s:\n{self.why()}")

    def user_token(self, user: str) -> str:
        status, body = self.call("POST", f"/hub/api/users/{user}/tokens",
                                 body={"note": "course test", "expires_in": 3600})
        assert status in (200, 201), f"token for {user}: {status} {body}"
        return body["token"]

    def assignment_action(self, user: str, token: str, action: str, aid: str = AID) -> str:
        """What the Assignments tab's button does; returns the assignment's status after it."""
        status, body = self.call(
            "POST", f"/user/{user}/assignments/{action}?assignment_id={aid}"
                    f"&course_id={grading.COURSE_ID}", token=token, body={})
        assert status == 200, f"{action} as {user}: {status} {body}"
        if isinstance(body, dict) and "success" in body and not body["success"]:
            raise AssertionError(f"{action} as {user}: {body}")
        value = body["value"] if isinstance(body, dict) else body
        mine = [a for a in value if a["assignment_id"] == aid]
        assert mine, f"{action} as {user}: {aid} not listed: {value}"
        return mine[-1]["status"]

    def assignments(self, user: str, token: str) -> tuple[int, object]:
        return self.call("GET", f"/user/{user}/assignments?course_id={grading.COURSE_ID}",
                         token=token)

    def run_in_kernel(self, user: str, token: str, code: str) -> tuple[str, str | None]:
        """Start a kernel in the user's server, run ``code``, delete the kernel: what it
        printed and its error (``"Name: value"``) or None."""
        status, body = self.call("POST", f"/user/{user}/api/kernels", token=token,
                                 body={"name": "python3"})
        assert status == 201, f"kernel for {user}: {status} {body}\n{self.why()}"
        kernel = body["id"]
        try:
            url = self.url.replace("http://", "ws://") + \
                f"/user/{user}/api/kernels/{kernel}/channels"
            return asyncio.run(_execute(url, token, code))
        finally:
            self.call("DELETE", f"/user/{user}/api/kernels/{kernel}", token=token)


async def _execute(url: str, token: str, code: str, timeout: float = 90
                   ) -> tuple[str, str | None]:
    """One execute_request over a kernel's websocket, in Jupyter's JSON message format."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {token}"}))
    msg_id = secrets.token_hex(8)
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "course-test",
              "session": secrets.token_hex(8), "version": "5.3",
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    await conn.write_message(json.dumps({
        "header": header, "parent_header": {}, "metadata": {}, "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    printed, error = [], None
    try:
        while True:
            raw = await asyncio.wait_for(conn.read_message(), timeout)
            assert raw is not None, "the kernel's websocket closed before the code finished"
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(printed), error
    finally:
        conn.close()


def _solved(fetched: Path, dest: Path, module: course.Module = MODULE) -> None:
    """The fetched notebook with the reference solution typed into every solution cell."""
    import nbformat

    nb = nbformat.read(str(fetched), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source
               for c in grading.source_notebook(module).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    typed = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell.source = "\n".join(ln for ln in answers[meta["grade_id"]].splitlines()
                                    if "BEGIN SOLUTION" not in ln and "END SOLUTION" not in ln)
            typed += 1
    assert typed, "no solution cell in the fetched notebook"
    nbformat.write(nb, str(dest))
    os.chmod(dest, 0o644)


# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.hub
def test_course_on_jupyterhub(base, course_dir, student_venv, students, jupyterhub):
    s1, s2 = students
    api = jupyterhub

    # The students' environment: no reference solution reachable from their Python.
    for s in students:
        r = s.run("python", "-c", "import tinytorch.core.tensor as t; print(t.__file__)")
        assert r.returncode != 0, f"{s.name} imported a finished tensor module: {r.stdout}"
        assert "tito module complete 01" in r.stderr, r.stderr[-800:]

    # 1. Release through the exchange.
    out = _ok(_tito("nbgrader", "hub", "release", MODULE.number, "--course", str(course_dir)))
    assert f"{AID}: released" in out

    # 2. Each student's server, through the hub: it answers the Assignments endpoint with the
    #    release, runs its kernels from the students' venv, and refuses the other's token.
    tokens = {}
    for s in students:
        assert not s.workspace.exists()
        api.start_server(s.name)
        tokens[s.name] = api.user_token(s.name)
    for s in students:
        status, body = api.assignments(s.name, tokens[s.name])
        assert status == 200 and body["success"], (status, body)
        listed = {(a["assignment_id"], a["status"]) for a in body["value"]}
        assert (AID, "released") in listed, listed
        # The server made the student's own workspace as the student, private to them.
        info = s.workspace.stat()
        assert info.st_uid == s.uid and stat.S_IMODE(info.st_mode) == workspace.MODE, \
            (info.st_uid, oct(info.st_mode))
        assert workspace.is_workspace(s.workspace)
        assert (s.workspace / "tinytorch" / "__init__.py").stat().st_uid == s.uid
        # The server (and so its kernels, which use the server's Python) runs from the
        # students' venv, with nothing of the instructor's environment passed on, and with
        # the student's workspace on its path.
        servers = _processes_of(s.uid)
        assert servers, f"no process runs as {s.name}"
        for argv, env in servers:
            assert argv[0].startswith(f"{student_venv}/"), argv
            assert env.get("VIRTUAL_ENV") == str(student_venv), env.get("VIRTUAL_ENV")
            assert str(BIN) not in env.get("PATH", ""), env.get("PATH")
            assert env.get("PYTHONPATH") == str(s.workspace), (argv, env.get("PYTHONPATH"))
    assert not s2.can_read(s1.workspace) and not s1.can_read(s2.workspace / "tinytorch")
    status, body = api.assignments(s1.name, tokens[s2.name])
    assert status == 403, f"{s2.name}'s token opened {s1.name}'s server: {status} {body}"

    # 3. Each student fetches (no --course: the course id comes from the installed config),
    #    edits and submits, as that account: s1 with nbgrader's commands, typing the
    #    solutions; s2 through the Assignments tab's own endpoints, handing in the stubs.
    #    Both fetches land where tito looks for the student's notebook.
    _ok(s1.run("nbgrader", "fetch_assignment", AID))
    fetched = MODULE.notebook(s1.workspace)
    assert fetched.is_file() and fetched.stat().st_uid == s1.uid, fetched
    draft = base / "s1-draft.ipynb"
    _solved(fetched, draft)
    _ok(s1.run("cp", str(draft), str(fetched)))
    _ok(s1.run("nbgrader", "submit", AID))
    assert api.assignment_action(s2.name, tokens[s2.name], "fetch") == "fetched"
    assert MODULE.notebook(s2.workspace).stat().st_uid == s2.uid
    assert api.assignment_action(s2.name, tokens[s2.name], "submit") == "submitted"
    status, body = api.assignments(s1.name, tokens[s1.name])
    assert status == 200 and body["success"], body
    assert any(a["assignment_id"] == AID and a["status"] == "submitted"
               for a in body["value"]), body["value"]

    # A student cannot look into the inbound (nbgrader's 733) at the other's hand-in.
    inbound = base / "exchange" / grading.COURSE_ID / "inbound"
    assert inbound.is_dir() and not s2.can_read(inbound)

    # 4. Collect, autograde (through tito), feedback, return; each student fetches feedback.
    out = _ok(_tito("nbgrader", "hub", "collect", MODULE.number, "--course", str(course_dir)))
    assert "2 submission(s)" in out, out
    out = _ok(_tito("nbgrader", "autograde", MODULE.number, "--course", str(course_dir)))
    marks = grading.scores(course_dir, MODULE)
    assert set(marks) == {s1.name, s2.name}, (marks, out)
    # The typed reference answers earn every point, the stubs none.
    assert marks[s1.name][0] == marks[s1.name][1] > 0 == marks[s2.name][0], (marks, out)
    _ok(_tito("nbgrader", "feedback", MODULE.number, "--course", str(course_dir)))
    _ok(_tito("nbgrader", "hub", "return", MODULE.number, "--course", str(course_dir)))
    _ok(s1.run("nbgrader", "fetch_feedback", AID))
    api.assignment_action(s2.name, tokens[s2.name], "fetch_feedback")
    for s in students:
        folder = MODULE.notebook(s.workspace).parent
        pages = list((folder / "feedback").rglob(NOTEBOOK.replace(".ipynb", ".html")))
        assert pages, f"no feedback for {s.name} under {folder}"
        assert "BEGIN HIDDEN TESTS" not in pages[0].read_text(encoding="utf-8")
    _ok(_tito("nbgrader", "export", "--course", str(course_dir)))

    # 5. The next module, on the hub. s1 completes module 01 in a terminal of their server (the
    #    same environment), which puts their code into their own package; the instructor
    #    releases module 02, which s1 fetches from the Assignments tab.
    out = _ok(s1.run("tito", "module", "complete", MODULE.number))
    assert f"Module {MODULE.number} complete" in out, out
    assert f"Fetch {grading.assignment_id(NEXT)}" in out, "on the hub, next is a fetch"
    assert progress.module_state(MODULE.number, s1.workspace) == progress.COMPLETE
    _ok(_tito("nbgrader", "generate", NEXT.number, "--course", str(course_dir)))
    _ok(_tito("nbgrader", "hub", "release", NEXT.number, "--course", str(course_dir)))
    next_aid = grading.assignment_id(NEXT)
    assert api.assignment_action(s1.name, tokens[s1.name], "fetch", next_aid) == "fetched"
    assert NEXT.notebook(s1.workspace).is_file()
    # `tito module start` on the hub says where notebooks come from.
    r = s1.run("tito", "module", "start", NEXT.number)
    assert r.returncode == 2 and "already here" in r.stderr, r.stderr
    r = s2.run("tito", "module", "start", NEXT.number)
    assert r.returncode == 2 and f"nbgrader fetch_assignment {next_aid}" in r.stderr \
        and NEEDS_FIRST in r.stderr, r.stderr

    #    A kernel of s1's server computes with s1's own module 01; s2's kernel is told to
    #    complete module 01 first.
    code = (f"import tinytorch.{MODULE.target} as first\nprint(first.__file__)\n"
            f"print((first.Tensor([1.0, 2.0]) * 3).data.tolist())")
    printed, error = api.run_in_kernel(s1.name, tokens[s1.name], code)
    assert error is None, error
    assert printed.splitlines()[0].startswith(f"{s1.workspace}/tinytorch/"), printed
    assert "[3.0, 6.0]" in printed, printed
    printed, error = api.run_in_kernel(s2.name, tokens[s2.name], code)
    assert error and NEEDS_FIRST in error, (printed, error)

    #    s1 types module 02's answers into the fetched notebook; completing it runs module 02's
    #    tests against s1's own module 01.
    draft = base / "s1-draft-next.ipynb"
    _solved(NEXT.notebook(s1.workspace), draft, NEXT)
    _ok(s1.run("cp", str(draft), str(NEXT.notebook(s1.workspace))))
    out = _ok(s1.run("tito", "module", "complete", NEXT.number))
    assert f"Module {NEXT.number} complete" in out, out
    exported = s1.workspace.joinpath("tinytorch", *NEXT.target.split(".")).with_suffix(".py")
    assert exported.stat().st_uid == s1.uid

    # 6. Privacy: no student reads the course directory, the gradebook, the grades or the
    #    other's hand-in, or writes into it.
    submitted = course_dir / "submitted"
    for s, other in ((s1, s2), (s2, s1)):
        assert not s.can_read(course_dir), f"{s.name} can list {course_dir}"
        assert not s.can_read(course_dir / "gradebook.db")
        assert not s.can_read(course_dir / "grades.csv")
        theirs = submitted / other.name / AID
        assert not s.can_read(theirs / NOTEBOOK), f"{s.name} reads {other.name}'s hand-in"
        assert not s.can_write_into(theirs), f"{s.name} writes into {other.name}'s hand-in"
    # ... and that holds because of the modes, not only because of the folder above them.
    assert hub.privacy_problems(course_dir) == []

    # 7. The doctor agrees with all of the above, and is right about the module sources.
    r = _tito("nbgrader", "hub", "doctor", "--course", str(course_dir),
              "--student-venv", str(student_venv))
    lines = r.stdout.splitlines()
    for name in ("exchange", "exchange seen by students", "course id seen by students",
                 "course directory private", "students' tinytorch", "students' workspace"):
        assert any(ln.startswith(f"OK    {name}:") for ln in lines), (name, r.stdout)
    sources_open = s1.can_read(MODULE.source())
    flagged = any(ln.startswith("FAIL  module sources private:") for ln in lines)
    assert flagged == sources_open, r.stdout
    assert r.returncode == (1 if sources_open else 0), r.stdout


# ---------------------------------------------------------------------------------------------
# Quick checks of the helpers (no accounts, no hub)


def test_exchange_mode_checked_and_fixed(tmp_path):
    ex = tmp_path / "exchange"
    assert "does not exist" in hub.exchange_problem(ex)
    assert "created" in hub.ensure_exchange(ex)
    assert stat.S_IMODE(ex.stat().st_mode) == 0o1777
    assert hub.exchange_problem(ex) is None
    os.chmod(ex, 0o755)
    assert "1777" in hub.exchange_problem(ex)


def test_privacy_problems_found_and_fixed(tmp_path):
    root = tmp_path / "course"
    hand_in = root / "submitted" / "ada" / AID
    hand_in.mkdir(parents=True)
    (hand_in / NOTEBOOK).write_text("{}")
    (root / "gradebook.db").write_text("")
    os.chmod(root, 0o755)
    os.chmod(root / "gradebook.db", 0o644)
    os.chmod(hand_in, 0o777)
    found = "\n".join(hub.privacy_problems(root))
    assert "0755" in found and "gradebook.db" in found and "world-writable" in found
    hub.make_private(root)
    assert hub.privacy_problems(root) == []


def test_setup_writes_configs_from_templates(tmp_path, monkeypatch):
    root = tmp_path / "course"
    venv = tmp_path / "venv"
    edition = tmp_path / "edition"
    student_cfg, hub_cfg = hub.write_configs(root, tmp_path / "ex", venv, ["bo", "ada"],
                                             edition)
    from traitlets.config import Config

    cfg = Config()
    monkeypatch.setenv("HOME", str(tmp_path / "ada"))  # the config is run by each student
    exec(student_cfg.read_text(), {"get_config": lambda: cfg})
    assert cfg.Exchange.root == str(tmp_path / "ex")
    assert cfg.CourseDirectory.course_id == grading.COURSE_ID
    assert cfg.Exchange.assignment_dir == str(workspace.assignment_dir(tmp_path / "ada"))
    assert hub.configured_exchange(root) == tmp_path / "ex"
    cfg = Config()
    exec(hub_cfg.read_text(), {"get_config": lambda: cfg})
    assert cfg.Spawner.cmd == [f"{venv}/bin/python", "-I", "-m", "tito.hub_launch",
                               "--edition", str(edition), "--",
                               f"{venv}/bin/jupyterhub-singleuser"]
    assert hub.configured_edition(root) == edition
    assert cfg.Spawner.environment["PATH"].startswith(f"{venv}/bin:")
    assert cfg.Authenticator.allowed_users == {"ada", "bo"}
    assert hub.install_command(student_cfg, venv).endswith(
        f"{venv}/etc/jupyter/nbgrader_config.py")


def test_hub_commands_say_what_to_do(tmp_path):
    r = _tito("nbgrader", "hub", "release", "01", "--course", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "tito nbgrader init" in r.stderr, r.stderr
    root = tmp_path / "course"
    _ok(_tito("nbgrader", "init", str(root)))
    r = _tito("nbgrader", "hub", "release", "01", "--course", str(root))
    assert r.returncode == 2 and "tito nbgrader generate 01" in r.stderr, r.stderr
    r = _tito("nbgrader", "hub", "setup", "--course", str(root), "--student-venv",
              str(tmp_path / "no-venv"), "--edition", str(tmp_path))
    assert r.returncode == 2 and "not a venv" in r.stderr, r.stderr
    r = _tito("nbgrader", "hub", "setup", "--course", str(root), "--student-venv", sys.prefix,
              "--edition", str(REPO))
    assert r.returncode == 2 and "not a student edition" in r.stderr \
        and "tito release student --out" in r.stderr, r.stderr
    assert not (hub.hub_folder(root) / hub.HUB_CONFIG).exists()


def test_doctor_flags_the_instructors_environment(tmp_path):
    """Pointed at this (instructor) venv as if students ran it, the doctor says so."""
    root = tmp_path / "course"
    _ok(_tito("nbgrader", "init", str(root)))
    os.chmod(root, 0o755)
    r = _tito("nbgrader", "hub", "doctor", "--course", str(root),
              "--student-venv", sys.prefix)
    assert r.returncode == 1, r.stdout
    assert "FAIL  hub set-up:" in r.stdout, r.stdout
    assert "FAIL  course directory private:" in r.stdout, r.stdout
    assert "FAIL  students' tinytorch: imports the instructor's package" in r.stdout, r.stdout


def test_package_leaks_finds_the_reference_code(tmp_path):
    pkg = tmp_path / "tinytorch"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    shutil.copy(REPO / "tinytorch" / "core" / "tensor.py", pkg / "core" / "tensor.py")
    assert [f for f in hub.package_leaks([str(pkg)]) if "tensor.py" in f]
    (pkg / "core" / "tensor.py").unlink()
    assert hub.package_leaks([str(pkg)]) == []


def test_skips_name_what_is_missing(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "needs root" in _missing()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "runuser" else "/bin/x")
    assert "runuser" in _missing()


# ---------------------------------------------------------------------------------------------
# The workspace and its launcher (no accounts, no hub)


def _fake_edition(root: Path) -> Path:
    """A small tree shaped like `tito release student --out`, with what a workspace leaves out:
    the module sources, pip's in-place build leftovers, caches, a symlink, a progress record."""
    files = {"README.md": "# student edition\n", "setup.cfg": "[metadata]\n",
             "tito/__init__.py": "", "tinytorch/__init__.py": "", "tests/test_x.py": "",
             "milestones/01_x/run.py": "#!/usr/bin/env python3\n",
             "modules/01_tensor/tensor.py": "# stubs\n", "modules/01_tensor/figure.png": "",
             "build/lib/tito/__init__.py": "", "tinytorch.egg-info/PKG-INFO": "",
             "tito/__pycache__/cli.cpython-311.pyc": "",
             ".tinytorch/progress.json": "{}", ".tinytorch/edition": "student\n"}
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    os.chmod(root / "milestones/01_x/run.py", 0o755)
    (root / "tito" / "elsewhere.py").symlink_to("/etc/hostname")
    return root


def test_workspace_is_a_private_copy_of_the_edition_without_module_sources(tmp_path):
    edition = _fake_edition(tmp_path / "edition")
    home = tmp_path / "home"
    home.mkdir()
    ws, made = workspace.make_workspace(edition, home)
    assert made and ws == home / workspace.WORKSPACE_NAME
    assert stat.S_IMODE(ws.stat().st_mode) == workspace.MODE
    copied = sorted(p.relative_to(ws).as_posix() for p in ws.rglob("*") if p.is_file())
    assert copied == sorted([".tinytorch/edition", f".tinytorch/{workspace.MARKER}",
                             "README.md", "setup.cfg", "tito/__init__.py",
                             "tinytorch/__init__.py", "tests/test_x.py",
                             "milestones/01_x/run.py", "modules/README.md"]), copied
    assert os.access(ws / "milestones/01_x/run.py", os.X_OK)
    assert progress.is_student_edition(ws) and workspace.is_workspace(ws)
    assert not workspace.is_workspace(edition)
    assert [p.name for p in home.iterdir()] == [workspace.WORKSPACE_NAME], "no temporary left"
    # A fetched notebook lands where tito looks for a student's notebook, for every module.
    for m in course.MODULES:
        fetched = workspace.assignment_dir(home) / grading.assignment_id(m) / \
            grading.notebook_name(m)
        assert fetched == m.notebook(ws), m
    # The next start keeps the student's work as it is.
    (ws / "README.md").write_text("my notes")
    assert workspace.make_workspace(edition, home) == (ws, False)
    assert (ws / "README.md").read_text() == "my notes"


def test_launcher_refuses_a_folder_that_is_not_a_workspace(tmp_path):
    edition = _fake_edition(tmp_path / "edition")
    home = tmp_path / "home"
    theirs = home / workspace.WORKSPACE_NAME
    theirs.mkdir(parents=True)
    (theirs / "notes.txt").write_text("mine")
    launch = [sys.executable, "-m", "tito.hub_launch", "--edition", str(edition), "--",
              sys.executable, "-c", "import os; print(os.environ['PYTHONPATH'])"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # tito: from cwd
    env["HOME"] = str(home)
    r = _run(launch, env=env, cwd=REPO)
    assert r.returncode == 1 and "is not a tinytorch workspace" in r.stderr, r.stderr
    assert f"mv {theirs} {theirs}.old" in r.stderr and r.stdout == "", r.stdout
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]
    assert (theirs / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in home.iterdir()) == [workspace.WORKSPACE_NAME]
    # Moved aside, the next start makes the workspace and runs the server with it on the path.
    theirs.rename(home / "old")
    r = _run(launch, env=env, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(theirs) and workspace.is_workspace(theirs)
    assert hub_launch.server_env(theirs, {"PYTHONPATH": "/x"})["PYTHONPATH"] == \
        f"{theirs}{os.pathsep}/x"
    # An edition that is not one is named, and nothing is made.
    shutil.rmtree(theirs)
    r = _run([*launch[:3], "--edition", str(tmp_path), *launch[5:]], env=env, cwd=REPO)
    assert r.returncode == 1 and "is not a student edition" in r.stderr, r.stderr
    assert not theirs.exists()


def test_setup_checks_the_edition_students_copy(tmp_path):
    edition = _fake_edition(Path(tempfile.mkdtemp(prefix="tito-edition-")))
    try:
        os.chmod(edition, 0o755)
        assert hub.edition_problem(edition) is None
        assert hub.check_edition(edition) == edition
        os.chmod(edition / "tests", 0o700)
        with pytest.raises(hub.HubError, match=r"tests has mode 0700.*chmod -R a\+rX"):
            hub.check_edition(edition)
        (edition / ".tinytorch" / "edition").write_text("instructor\n")
        with pytest.raises(hub.HubError, match="not a student edition.*tito release student"):
            hub.check_edition(edition)
    finally:
        shutil.rmtree(edition)
    with pytest.raises(hub.HubError, match="is not a folder"):
        hub.check_edition(tmp_path / "missing")



def test_doctor_workspace_check_fails_without_the_first_modules_message():
    """Through the launcher, a workspace whose package does not say "complete module 01"
    (here: an edition without the package frame) is a FAIL that names what it saw."""
    edition = _fake_edition(Path(tempfile.mkdtemp(prefix="tito-edition-")))
    try:
        os.chmod(edition, 0o755)
        check = hub.workspace_check(Path(sys.executable), edition)
        assert not check.ok, check
        assert f"import tinytorch.{MODULE.target} raises ModuleNotFoundError" in check.found
        assert "tito release student" in check.fix
        assert not hub.workspace_check(Path(sys.executable), None).ok
    finally:
        shutil.rmtree(edition)
