"""The worker side of grading: run one notebook's cells in a sandboxed kernel, return the outputs.

``run_task(task) -> result`` is a plain function of plain data, so the same task runs in a local
process pool or on a Dask worker on another machine. The task carries everything the worker
needs: the notebook (already restored by nbgrader: locked cells and hidden tests back in place),
the files of the submission folder, and the grading package (the reference code of the modules
before the graded one). The worker never sees a course directory or a gradebook, and it decides
no score: the coordinator feeds the outputs to nbgrader, which scores them.

What the worker does beyond executing cells, so that a submission cannot break grading:

- a kernel that dies or hangs (``os._exit``, a loop that swallows KeyboardInterrupt) is
  restarted, the cells that ran before are replayed, and grading goes on after the broken cell;
- every cell's output is cut at ``max_output_bytes`` (and the cut is noted in the cell);
- text a graded cell writes to stderr (a warning) moves to stdout: nbgrader would otherwise count
  the cell as failed although nothing raised;
- after every cell the kernel's guard reports changes to the test harness (see sandbox_boot).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tito import sandbox

MAX_RESTARTS = 3
GUARD = "__import__('_tinytorch_guard').report()"
KERNEL_ARGS = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]


def _error_output(name: str, message: str):
    from nbformat.v4 import new_output

    return new_output("error", ename=name, evalue=message,
                      traceback=[f"{name}: {message}"])


def _size(out) -> int:
    if out.get("output_type") == "stream":
        return len(out.get("text", ""))
    if out.get("output_type") == "error":
        return sum(len(t) for t in out.get("traceback", []))
    return len(json.dumps(out.get("data", {})))


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """nbclient, with every cell's outputs capped by bytes as they arrive."""

        max_output_bytes = 100_000

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.used: dict[int, int] = {}
            self.truncated: set[int] = set()

        def output(self, outs, msg, display_id, cell_index):
            out = super().output(outs, msg, display_id, cell_index)
            if out is None:
                return out
            used = self.used.get(cell_index, 0)
            size = _size(out)
            if used + size <= self.max_output_bytes:
                self.used[cell_index] = used + size
                return out
            outs.remove(out)
            if cell_index not in self.truncated:
                self.truncated.add(cell_index)
                room = max(self.max_output_bytes - used, 0)
                if out.get("output_type") == "stream" and room:
                    out["text"] = out["text"][:room]
                    outs.append(out)
                from nbformat.v4 import new_output

                outs.append(new_output("stream", name="stdout", text=(
                    f"\n[output cut: more than {self.max_output_bytes} bytes]\n")))
            self.used[cell_index] = self.max_output_bytes
            return None

    return CappedClient


def _kernel_manager(mounts: sandbox.Mounts | None, limits: sandbox.Limits,
                    cgroup: Path | None):
    from jupyter_client import AsyncKernelManager

    class SandboxedKernelManager(AsyncKernelManager):
        """A kernel started inside bubblewrap, reached over unix sockets."""

        def format_kernel_cmd(self, extra_arguments=None):
            return sandbox.kernel_command(mounts, limits, self.connection_file,
                                          list(extra_arguments or []), cgroup)

    if mounts is None:  # --unsafe-no-sandbox: the instructor's own python3 kernel
        return AsyncKernelManager(kernel_name="python3")
    km = SandboxedKernelManager(kernel_name="python3", transport="ipc",
                                ip=str(mounts.ipc / "k"))
    km.connection_file = str(mounts.ipc / "kernel.json")
    return km


def _guard_report(client, changes: list[str], events: list[str], cell_label: str) -> None:
    """Ask the kernel's guard what changed; new findings are added with the cell they follow."""
    try:
        msg_id = client.kc.execute("", silent=True, store_history=False,
                                   user_expressions={"guard": GUARD})
        reply = client.wait_for_reply(msg_id)
    except Exception as err:  # noqa: BLE001 - an unanswering guard is itself a finding
        changes.append(f"the harness check did not answer after {cell_label} ({err})")
        return
    expr = reply.get("content", {}).get("user_expressions", {}).get("guard", {})
    if expr.get("status") != "ok":
        changes.append(f"the harness check failed after {cell_label} "
                       f"({expr.get('ename', 'no answer')})")
        return
    try:
        text = expr["data"]["text/plain"]
        found = json.loads(json.loads(text) if text.startswith(("'", '"')) else text)
    except Exception:  # noqa: BLE001
        import ast

        try:
            found = json.loads(ast.literal_eval(expr["data"]["text/plain"]))
        except Exception:  # noqa: BLE001
            changes.append(f"the harness check answered nonsense after {cell_label}")
            return
    for c in found.get("changes", []):
        note = f"{c} (after {cell_label})"
        if not any(x.startswith(c) for x in changes):
            changes.append(note)
    for e in found.get("events", []):
        if e not in events:
            events.append(e)


def _label(cell, index: int) -> str:
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return f"cell {index}" + (f" ({gid})" if gid else "")


def _stderr_to_stdout(cell) -> None:
    if not cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
        return
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            out["name"] = "stdout"


def execute(nb, workdir: Path, package: Path | None, timeout: int,
            limits: sandbox.Limits, max_output_bytes: int, use_sandbox: bool) -> dict:
    """Run every code cell of ``nb`` in order (in place); return the worker's report."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    ipc = Path(tempfile.mkdtemp(prefix="tt-ipc-"))
    try:
        if use_sandbox:
            sandbox.prepare_dirs(workdir, ipc)
            mounts = sandbox.Mounts(work=workdir, package=package, ipc=ipc)
        else:
            mounts = None
        Client = _client_class()
        code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        done: list[int] = []          # cells that ran without killing the kernel
        restarts: list[str] = []
        changes: list[str] = []
        events: list[str] = []
        truncated: set[int] = set()
        pos, started, kernel_start = 0, time.perf_counter(), 0.0
        cg_root = sandbox.pids_cgroup_root() if use_sandbox and os.getuid() == 0 else None
        while pos < len(code):
            cgroup = cg_root / f"tinytorch-{os.getpid()}-{len(restarts)}" if cg_root else None
            km = _kernel_manager(mounts, limits, cgroup)
            client = Client(nb, km=km, timeout=timeout, allow_errors=True,
                            interrupt_on_timeout=False, kernel_name="python3",
                            extra_arguments=KERNEL_ARGS, record_timing=False,
                            resources={"metadata": {"path": str(workdir)}})
            client.max_output_bytes = max_output_bytes
            t0 = time.perf_counter()
            broken = None
            log = open(ipc / "kernel.log", "ab")
            with log, client.setup_kernel(cwd=str(workdir), stdout=log, stderr=log):
                kernel_start += time.perf_counter() - t0
                _guard_report(client, changes, events, "start")  # the photograph
                for i in done:  # after a restart: rebuild the state, outputs kept from before
                    scratch = nb.cells[i].copy()
                    scratch["outputs"] = []
                    try:
                        client.execute_cell(scratch, i)
                    except (CellTimeoutError, DeadKernelError) as err:
                        broken = f"replay of {_label(nb.cells[i], i)} failed ({type(err).__name__})"
                        break
                while broken is None and pos < len(code):
                    i = code[pos]
                    cell = nb.cells[i]
                    pos += 1
                    try:
                        client.execute_cell(cell, i)
                    except CellTimeoutError:
                        cell.outputs.append(_error_output(
                            "CellTimeoutError", f"the cell ran longer than {timeout} s; the "
                            f"kernel was restarted and grading went on with the next cell"))
                        broken = f"{_label(cell, i)} timed out"
                    except DeadKernelError:
                        cell.outputs.append(_error_output(
                            "DeadKernelError", "the kernel died while running this cell; it was "
                            "restarted and grading went on with the next cell"))
                        broken = f"the kernel died in {_label(cell, i)}"
                    else:
                        done.append(i)
                        _guard_report(client, changes, events, _label(cell, i))
                    _stderr_to_stdout(cell)
            truncated |= client.truncated
            if cgroup is not None:
                _remove_cgroup(cgroup)
            if broken is not None:
                restarts.append(broken)
                if len(restarts) > MAX_RESTARTS:
                    for i in code[pos:]:
                        nb.cells[i].outputs = [_error_output(
                            "NotRun", f"not run: the kernel broke {len(restarts)} times")]
                    break
        return {"restarts": restarts, "changes": changes, "events": events,
                "truncated": sorted(truncated),
                "seconds": time.perf_counter() - started, "kernel_start_s": kernel_start}
    except Exception as err:
        tail = _tail(ipc / "kernel.log")
        raise RuntimeError(f"{err}" + (f" (kernel said: {tail})" if tail else "")) from err
    finally:
        shutil.rmtree(ipc, ignore_errors=True)


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    useful = [ln for ln in lines if ln.strip() and "Ctrl-" not in ln and "--existing" not in ln]
    return useful[-1][:300] if useful else ""


def _remove_cgroup(cgroup: Path) -> None:
    """Kill what is left in a finished sandbox's cgroup (a daemon it forked), then remove it."""
    import signal

    for _ in range(50):
        try:
            pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)
    try:
        cgroup.rmdir()
    except OSError:
        pass


def run_task(task: dict) -> dict:
    """Grade-execute one submission: the entry point for the process pool and for Dask.

    task: notebook (JSON text), files ({relative path: base64}), package ({relative path:
    text} of the grading package, or None), package_data ({relative path: base64}), timeout, max_output_bytes, sandbox (bool), limits.
    Returns: notebook (JSON text, executed), report, or error (text) when nothing could run.
    """
    import nbformat

    base = Path(tempfile.mkdtemp(prefix="tt-grade-"))
    try:
        work = base / "work"
        work.mkdir()
        for rel, data in task.get("files", {}).items():
            dest = work / rel
            if work.resolve() not in dest.resolve().parents:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(base64.b64decode(data))
        package = None
        if task.get("package"):
            package = base / "pkg"
            for rel, text in task["package"].items():
                dest = package / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_text(text, encoding="utf-8")
            for rel, data in task.get("package_data", {}).items():
                dest = package / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(base64.b64decode(data))
        nb = nbformat.reads(task["notebook"], as_version=4)
        limits = sandbox.Limits(**task.get("limits", {}))
        try:
            report = execute(nb, work, package, int(task["timeout"]), limits,
                             int(task.get("max_output_bytes", 100_000)),
                             bool(task.get("sandbox", True)))
        except Exception as err:  # noqa: BLE001 - reported as "not graded" with the reason
            return {"error": f"{type(err).__name__}: {err}"}
        return {"notebook": nbformat.writes(nb), "report": report}
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":  # one task from a JSON file, for trying a submission by hand
    result = run_task(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
    json.dump(result.get("report") or result, sys.stdout, indent=2)
    os._exit(0)
