# nbgrader settings for the students of the tinytorch course on this JupyterHub.
# Written by `tito nbgrader hub setup`. Every student's Jupyter server and nbgrader command reads
# it once it sits in a Jupyter config folder of the students' Python (the command printed by
# setup installs it there); without it the Assignments tab cannot find the exchange.
import os

c = get_config()  # noqa: F821 (provided by Jupyter when it loads this file)

# Where assignments are released, handed in and returned (one folder for the whole machine).
c.Exchange.root = "${exchange}"

# The course every fetch, submit and fetch_feedback is about, so students need no --course.
c.CourseDirectory.course_id = "${course_id}"

# Where a student's assignments live: the modules/ folder of their own workspace (made by their
# server the first time it starts), so a fetched notebook lands where tito looks for it,
# ~/${workspace}/modules/NN_name/name.ipynb, whatever folder nbgrader runs in. This file is
# loaded by each student's own processes: "~" is that student's home.
c.Exchange.assignment_dir = os.path.join(os.path.expanduser("~"), "${workspace}", "${modules}")
