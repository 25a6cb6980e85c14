"""The notebook loop in a real browser: JupyterLab started by tito, driven by headless Chromium.

A copy of the course gets a student notebook from ``tito module start``; ``tito module start
--open --no-browser --port N`` serves it on 127.0.0.1. Headless Chromium (Debian's ``chromium``
package) opens the notebook through the Chrome DevTools protocol, writes the first module's
solutions into its cells through JupyterLab's own document model, runs every cell, and saves.
``tito module test`` must then see the saved code. A screenshot of a graded cell's output is
kept in ``.ci-results/browser/`` (ignored by git) for the CI run's artefacts.

Skipped, with the reason, when Chromium is not installed (``apt-get install chromium``).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from helpers import REPO, copy_repo
from tito import course, progress, student

pytestmark = [pytest.mark.slow, pytest.mark.browser]

FIRST = course.MODULES[0]
GRADED = "test_matmul"             # the graded cell whose output is photographed
ARTEFACTS = REPO / ".ci-results" / "browser"
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)),
                None)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--window-size=1400,1000"]
TOKEN = "tinytorch-browser-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout: float, every: float = 0.5):
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read().decode())
    except (OSError, ValueError):
        return None


class DevTools:
    """The smallest Chrome DevTools protocol client: one page, request and answer by id."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

    @classmethod
    async def connect(cls, url: str) -> "DevTools":
        from tornado.websocket import websocket_connect

        return cls(await websocket_connect(url, max_message_size=64 * 1024 * 1024))

    async def call(self, method: str, **params):
        self.next_id += 1
        my = self.next_id
        await self.ws.write_message(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            raw = await self.ws.read_message()
            if raw is None:
                raise RuntimeError("the DevTools connection closed")
            msg = json.loads(raw)
            if msg.get("id") == my:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]

    async def js(self, expression: str):
        r = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                            returnByValue=True)
        if "exceptionDetails" in r:
            detail = r["exceptionDetails"]
            raise RuntimeError(f"in the page: {detail.get('exception', {}).get('description')}"
                               f" ({expression[:80]})")
        return r["result"].get("value")

    async def until(self, what: str, expression: str, timeout: float):
        end = time.monotonic() + timeout
        while True:
            value = await self.js(expression)
            if value:
                return value
            if time.monotonic() > end:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            await asyncio.sleep(0.5)


def _answers() -> dict[str, str]:
    """The instructor's solution cells of the first module, without the delimiter lines."""
    import jupytext

    out = {}
    for cell in jupytext.read(FIRST.source(REPO), fmt="py:percent").cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            out[meta["grade_id"]] = "\n".join(
                line for line in cell.source.splitlines()
                if not student.has_delimiters(line))
    return out


# JavaScript run in the page; `jupyterapp` is JupyterLab's application object.
NOTEBOOK = "jupyterapp.shell.currentWidget"
FIND = ("(id) => {NB}.content.widgets.find("
        "c => (c.model.getMetadata('nbgrader') || {{}}).grade_id === id)").format(NB=NOTEBOOK)


STATE = ("JSON.stringify({url: location.href, title: document.title, app: !!window.jupyterapp, "
         "widget: !!(window.jupyterapp && jupyterapp.shell.currentWidget), "
         "kind: window.jupyterapp && jupyterapp.shell.currentWidget "
         "&& jupyterapp.shell.currentWidget.title.label})")


async def _drive(page_url: str, answers: dict[str, str], shot: Path) -> dict:
    page = await DevTools.connect(page_url)
    await page.call("Page.enable")
    try:
        await page.until("JupyterLab to open the notebook",
                         f"!!(window.jupyterapp && {NOTEBOOK} && {NOTEBOOK}.content "
                         f"&& {NOTEBOOK}.content.widgets.length > 0 "
                         f"&& {NOTEBOOK}.sessionContext.session "
                         f"&& {NOTEBOOK}.sessionContext.session.kernel)", timeout=150)
    except AssertionError as err:
        state = await page.js(STATE)
        raise AssertionError(f"{err}; the page: {state}") from None
    await page.js(f"{NOTEBOOK}.sessionContext.ready")
    filled = await page.js(
        f"(() => {{ const find = {FIND}; const answers = {json.dumps(answers)}; let n = 0;"
        f" for (const [id, text] of Object.entries(answers)) {{"
        f"   const cell = find(id); if (cell) {{ cell.model.sharedModel.setSource(text); n++; }}"
        f" }} return n; }})()")
    await page.js(f"jupyterapp.commands.execute('notebook:run-all-cells')")
    await page.until(
        "every cell to run",
        f"{NOTEBOOK}.content.widgets.every(c => c.model.type !== 'code' "
        f"|| c.model.executionCount !== null) "
        f"&& {NOTEBOOK}.sessionContext.session.kernel.status === 'idle'", timeout=120)
    errors = await page.js(
        f"{NOTEBOOK}.content.widgets.filter(c => c.model.type === 'code' && "
        f"c.model.outputs.toJSON().some(o => o.output_type === 'error'))"
        f".map(c => (c.model.getMetadata('nbgrader') || {{}}).grade_id || 'a code cell')")
    await page.js("jupyterapp.commands.execute('docmanager:save')")
    await page.until("the save to finish", f"!{NOTEBOOK}.context.model.dirty", timeout=30)
    box = await page.js(
        f"(() => {{ const cell = ({FIND})({json.dumps(GRADED)});"
        f" cell.node.scrollIntoView({{block: 'center'}}); const r = cell.node"
        f".getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }})()")
    await asyncio.sleep(0.5)
    x, y, w, h = box
    image = await page.call("Page.captureScreenshot", format="png",
                            clip={"x": x, "y": max(y, 0), "width": max(w, 1),
                                  "height": max(min(h, 1000), 1), "scale": 1})
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(base64.b64decode(image["data"]))
    page.ws.close()
    return {"filled": filled, "errors": errors}


def _stop(proc: subprocess.Popen) -> None:
    """End a process this test started, with the processes it started itself."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get "
                                             "install -y chromium chromium-driver)")
def test_a_notebook_filled_run_and_saved_in_jupyterlab_is_what_tito_tests(tmp_path):
    root = copy_repo(tmp_path / "course", ("tito", "tinytorch", "tests", "setup.cfg",
                                           "pyproject.toml"))
    src = FIRST.source(root)
    src.parent.mkdir(parents=True)
    shutil.copy2(FIRST.source(REPO), src)
    # A student's working copy (the release itself is tested in test_student_workflow.py):
    # the edition marker, and no export of the first module yet.
    marker = progress.state_dir(root) / progress.EDITION_FILE
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("student\n", encoding="utf-8")
    student.package_file(FIRST.target, root / "tinytorch").unlink()
    env = dict(os.environ, PYTHONPATH=str(root), MPLBACKEND="Agg")
    tito = [sys.executable, "-m", "tito"]      # the copy's own tito (PYTHONPATH)

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([*tito, *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=timeout)

    started = run("module", "start", FIRST.number)
    assert started.returncode == 0, started.stdout + started.stderr
    before = run("module", "test", FIRST.number, "-k", "matmul")
    assert before.returncode == 1 and "NotImplementedError" in before.stdout, before.stdout

    # JupyterLab's settings for this run only: the token, and the app object in the page.
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "IdentityProvider": {"token": TOKEN},
        "LabApp": {"expose_app_in_browser": True},
        "ServerApp": {"disable_check_xsrf": False}}), encoding="utf-8")
    port = _free_port()
    lab = subprocess.Popen([*tito, "module", "start", FIRST.number, "--open", "--no-browser",
                            "--port", str(port)], cwd=root, start_new_session=True,
                           env=dict(env, JUPYTER_CONFIG_DIR=str(config)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path))
    browser = None
    try:
        def lab_up():
            if lab.poll() is not None:
                raise AssertionError("tito module start --open ended early:\n"
                                     + lab.stdout.read()[-3000:])
            return _get(f"http://127.0.0.1:{port}/api/status?token={TOKEN}")

        _wait("JupyterLab to answer on 127.0.0.1", lab_up, timeout=120)
        # JupyterLab serves the notebook's folder when tito names the notebook; ask the server.
        nb_rel = next((n for n in (FIRST.notebook(Path(".")).name,
                                   FIRST.notebook(Path(".")).as_posix())
                       if _get(f"http://127.0.0.1:{port}/api/contents/{n}?token={TOKEN}"
                               f"&content=0")), None)
        assert nb_rel, "JupyterLab does not serve the student's notebook"
        url = f"http://127.0.0.1:{port}/lab/tree/{nb_rel}?token={TOKEN}"
        browser = subprocess.Popen([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                    "--remote-debugging-port=0", url],
                                   start_new_session=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        active = profile / "DevToolsActivePort"
        devtools_port = _wait("Chromium's DevTools port",
                              lambda: active.exists() and active.read_text().split()[:1],
                              timeout=60)[0]
        pages = _wait("the page", lambda: [p for p in _get(
            f"http://127.0.0.1:{devtools_port}/json/list") or [] if p.get("type") == "page"],
                      timeout=30)
        shot = ARTEFACTS / f"{FIRST.folder}-{GRADED}.png"
        result = asyncio.run(_drive(pages[0]["webSocketDebuggerUrl"], _answers(), shot))
    finally:
        if browser is not None:
            _stop(browser)
        _stop(lab)
    assert result["filled"] == len(_answers()), "every solution cell was filled in the page"
    assert result["errors"] == [], f"cells failed in JupyterLab: {result['errors']}"
    assert shot.exists() and shot.stat().st_size > 1000, "the graded cell's screenshot"

    saved = FIRST.notebook(root).read_text(encoding="utf-8")
    assert "np.matmul(a.data, b.data)" in saved, "the solution typed in the browser was saved"
    after = run("module", "test", FIRST.number, "-k", "matmul")
    assert after.returncode == 0, after.stdout + after.stderr
    assert "NotImplementedError" not in after.stdout
