"""The grading kernel's side of the hardened grader: its entry point, confinement and sentinel."""

# Standard library only (``protocol`` also uses ``cryptography``'s AEAD): the kernel imports
# this package from the grader's own folder before any student code runs, on whichever
# Python the kernel runs. Importing it has no side effects.
__all__ = ["landlock", "main", "privileges", "protocol", "sentinel"]
