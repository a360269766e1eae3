"""The grader's exception (kept free of imports: the grading kernel imports this package)."""


class CourseError(Exception):
    """A mistake in the course material (solution, reference), not in a submission."""
