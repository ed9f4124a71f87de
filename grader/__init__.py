"""The course's hardened nbgrader grader, host side: preprocessors, class grading and self-check."""

# Never imported by a grading kernel: the kernel's side is the grader_kernel package, which
# the kernel loads from beside this one (grader.kernelmanager.KERNEL_MAIN). Importing this
# package has no side effects and imports none of its modules; nbgrader_config.py names
# them by string. The README's "Grading safely" says what each part guarantees.
