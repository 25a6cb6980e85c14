# nbgrader settings for the students of the tinytorch course on this JupyterHub.
# Written by `tito nbgrader hub setup`. Every student's Jupyter server and nbgrader command reads
# it once it sits in a Jupyter config folder of the students' Python (the command printed by
# setup installs it there); without it the Assignments tab cannot find the exchange.
c = get_config()  # noqa: F821 (provided by Jupyter when it loads this file)

# Where assignments are released, handed in and returned (one folder for the whole machine).
c.Exchange.root = "${exchange}"

# The course every fetch, submit and fetch_feedback is about, so students need no --course.
c.CourseDirectory.course_id = "${course_id}"
