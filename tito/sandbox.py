"""The sandbox that every grading kernel runs in: bubblewrap, resource limits, nothing else mounted.

A kernel that runs a student's code sees only:

    /usr, /lib*, /bin                      the system, read-only
    the Python installation and its venv   read-only (numpy, ipykernel ...)
    /sbx/pkg/tinytorch                     the reference package of the modules BEFORE the graded one
    /sbx/work                              its own working copy (the only writable place on disk)
    /tmp                                   an empty, size-limited tmpfs
    the kernel's socket folder             ipc transport: the kernel has no network at all

It runs in new user, PID, network, IPC and UTS namespaces (``bwrap --unshare-all``), as an
unprivileged uid inside its namespace, with limits on CPU time, memory, processes and file size. The Jupyter client
that drives it stays outside: it talks to the kernel over unix sockets in a folder both can see.

Linux only: bubblewrap is a Debian (and most distributions') package. Where it cannot be had,
grading refuses unless the instructor passes ``--unsafe-no-sandbox``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; Fedora: "
                "`sudo dnf install bubblewrap`)")
NOBODY = 65534
BOOT = Path(__file__).with_name("sandbox_boot.py")


class SandboxUnavailable(RuntimeError):
    """No working sandbox on this machine; the message says how to get one."""


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 600            # CPU time of the kernel process
    memory_bytes: int = 4 << 30       # address space per process
    processes: int = 64               # tasks of the sandbox user (threads count too)
    file_bytes: int = 64 << 20        # largest file the kernel may write
    tmp_bytes: int = 256 << 20        # size of /tmp inside the sandbox


@dataclass
class Mounts:
    """What a sandboxed kernel may see, besides the system directories."""

    work: Path                        # read-write working copy
    package: Path | None              # folder holding the grading package `tinytorch/`
    ipc: Path                         # kernel sockets and connection file
    read_only: list[Path] = field(default_factory=list)


def python_roots() -> list[Path]:
    """The folders the running Python needs: its installation and its environment."""
    roots = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(sys.executable).resolve().parent.parent}
    # An unusual layout (a venv whose python is a symlink elsewhere) needs the link's target too.
    return sorted(r for r in roots if r.is_dir())


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


_checked: dict[str, str | None] = {}


def check() -> None:
    """Raise SandboxUnavailable unless bubblewrap can start a process here (checked once)."""
    if "result" not in _checked:
        _checked["result"] = _probe()
    if _checked["result"]:
        raise SandboxUnavailable(_checked["result"])


def _probe() -> str | None:
    if not sys.platform.startswith("linux"):
        return (f"grading needs a sandbox, and bubblewrap runs on Linux only (this is "
                f"{sys.platform}): grade on a Linux machine, or pass --unsafe-no-sandbox")
    exe = bwrap_path()
    if exe is None:
        return f"grading needs a sandbox and bwrap was not found: {INSTALL_HINT}"
    cmd = launcher(Limits()) + [exe, *system_binds(), "--unshare-all", "--die-with-parent",
                                "--", "/bin/true"]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bubblewrap could not start ({err}): {INSTALL_HINT}"
    if run.returncode != 0:
        why = (run.stderr or run.stdout).strip().splitlines()
        return (f"bubblewrap is installed but cannot create a sandbox here "
                f"({why[-1] if why else 'exit ' + str(run.returncode)}); allow unprivileged "
                f"user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root")
    return None


def system_binds() -> list[str]:
    args: list[str] = []
    for d in ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        p = Path(d)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), d]
        elif p.is_dir():
            args += ["--ro-bind", d, d]
    # Shared-library lookup, time zone, fonts; nothing else of /etc (no passwd, no hosts).
    for f in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime"):
        if Path(f).exists():
            args += ["--ro-bind", f, f]
    for d in ("/etc/ld.so.conf.d", "/etc/fonts"):  # libraries; fonts for matplotlib
        if Path(d).is_dir():
            args += ["--ro-bind", d, d]
    return args


def pids_cgroup_root() -> Path | None:
    """Where root can make a cgroup that caps the number of processes (cgroup v1 or v2)."""
    for d in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        if (d / "cgroup.procs").is_file() and os.access(d, os.W_OK) and (
                d.name == "pids" or "pids" in _read(d / "cgroup.subtree_control")):
            return d
    return None


def _read(p: Path) -> str:
    try:
        return p.read_text()
    except OSError:
        return ""


def launcher(limits: Limits, cgroup: Path | None = None) -> list[str]:
    """A prefix that applies the resource limits, then runs the bwrap command that follows.

    The kernel exempts root from the process limit (RLIMIT_NPROC), and bwrap started by root
    stays root outside its user namespace; so for root the processes are capped by a pids
    cgroup instead (``cgroup``, made by the caller), and for any other user by RLIMIT_NPROC on
    top of the tasks they already run.
    """
    code = (
        "import os, resource as r, sys\n"
        f"r.setrlimit(r.RLIMIT_CPU, ({limits.cpu_seconds}, {limits.cpu_seconds + 5}))\n"
        f"r.setrlimit(r.RLIMIT_AS, ({limits.memory_bytes}, {limits.memory_bytes}))\n"
        f"r.setrlimit(r.RLIMIT_FSIZE, ({limits.file_bytes}, {limits.file_bytes}))\n"
        "r.setrlimit(r.RLIMIT_CORE, (0, 0))\n"
        f"cg = {str(cgroup) if cgroup else ''!r}\n"
        "if cg:\n"
        "    os.makedirs(cg, exist_ok=True)\n"
        f"    open(cg + '/pids.max', 'w').write('{limits.processes}')\n"
        "    open(cg + '/cgroup.procs', 'w').write(str(os.getpid()))\n"
        "elif os.getuid() != 0:\n"
        "    n = 0\n"
        "    for p in os.listdir('/proc'):\n"
        "        try:\n"
        "            if p.isdigit() and os.stat('/proc/' + p).st_uid == os.getuid():\n"
        "                n += len(os.listdir('/proc/' + p + '/task'))\n"
        "        except OSError:\n"
        "            pass\n"
        f"    r.setrlimit(r.RLIMIT_NPROC, (n + {limits.processes}, n + {limits.processes}))\n"
        "os.execv(sys.argv[1], sys.argv[1:])\n"
    )
    return [sys.executable, "-S", "-c", code]


def kernel_command(mounts: Mounts, limits: Limits, connection_file: str,
                   extra: list[str], cgroup: Path | None = None) -> list[str]:
    """The full command line that starts one sandboxed IPython kernel."""
    exe = bwrap_path()
    if exe is None:
        raise SandboxUnavailable(f"bwrap was not found: {INSTALL_HINT}")
    # The tmpfs first: the socket folder may live under the host's /tmp and must stay visible.
    args = launcher(limits, cgroup) + [exe, "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
                                       *system_binds()]
    for root in python_roots() + [Path(p) for p in mounts.read_only]:
        args += ["--ro-bind", str(root), str(root)]
    args += ["--ro-bind", str(BOOT), "/sbx/boot.py"]
    if mounts.package is not None:
        args += ["--ro-bind", str(mounts.package), "/sbx/pkg"]
    args += ["--bind", str(mounts.work), "/sbx/work",
             "--bind", str(mounts.ipc), str(mounts.ipc),
             "--proc", "/proc", "--dev", "/dev",
             "--unshare-all", "--die-with-parent", "--new-session",
             "--uid", str(NOBODY), "--gid", str(NOBODY), "--hostname", "sandbox",
             "--chdir", "/sbx/work", "--clearenv"]
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "PYTHONPATH": "/sbx/pkg" if mounts.package is not None else "",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "NBGRADER_EXECUTION": "autograde",
    }
    for key, value in env.items():
        args += ["--setenv", key, value]
    python = str(Path(sys.executable))
    return args + ["--", python, "/sbx/boot.py", "-f", connection_file, *extra]


def prepare_dirs(*dirs: Path) -> None:
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        d.chmod(0o700)
