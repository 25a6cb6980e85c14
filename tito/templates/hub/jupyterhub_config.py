# JupyterHub for the tinytorch course. Written by `tito nbgrader hub setup`; start the hub as
# root with `jupyterhub -f <this file>` (root can start each student's server as that student).
c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

# Each student logs in with their Unix account (PAM) and gets a server running as that account.
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(${students})
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"

# The students' servers run the student edition's environment, never the instructor's: the
# server, its kernels and its terminals all come from this venv, which holds tinytorch without
# the reference solutions. Nothing of the hub's own environment is passed on.
# Each server starts through tito's launcher, as the student: the first time, it copies the
# student edition below into ~/${workspace} (the student's own package, which
# `tito module complete` fills in), then runs the server with that folder first on PYTHONPATH.
# JupyterHub appends its own arguments to this command.
c.Spawner.cmd = ["${student_venv}/bin/python", "-I", "-m", "tito.hub_launch",
                 "--edition", "${edition}", "--", "${student_venv}/bin/jupyterhub-singleuser"]
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.environment = {
    "PATH": "${student_venv}/bin:/usr/local/bin:/usr/bin:/bin",
    "VIRTUAL_ENV": "${student_venv}",
}
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab"
