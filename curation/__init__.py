"""thoughtmill's curation side: sources, the generation engine, judges and the pipeline."""

from thoughtmill.curation.engine import LLM, Response, TeacherConfig
from thoughtmill.curation.errors import CurationError

__all__ = ["LLM", "CurationError", "Response", "TeacherConfig"]
