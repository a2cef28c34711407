"""thoughtmill's curation side: sources, the generation engine, judges and the pipeline."""

from curation.engine import LLM, Response, TeacherConfig
from curation.errors import CurationError

__all__ = ["LLM", "CurationError", "Response", "TeacherConfig"]
