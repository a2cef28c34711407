"""The fake teacher's own fixtures, shared with these tests."""

from thoughtmill.curation.testing.fixtures import fake_teacher, fake_teacher_factory  # noqa: F401
