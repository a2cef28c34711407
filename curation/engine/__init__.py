"""The async batching engine: teachers from config, cached and resumable LLM calls."""

from curation.engine.cache import ResponseCache
from curation.engine.config import Pricing, ReplayConfig, RetryConfig, TeacherConfig, load_teacher
from curation.engine.llm import LLM
from curation.engine.request import Request, Response, Usage
from curation.engine.runner import Engine

__all__ = [
    "LLM",
    "Engine",
    "Pricing",
    "ReplayConfig",
    "Request",
    "Response",
    "ResponseCache",
    "RetryConfig",
    "TeacherConfig",
    "Usage",
    "load_teacher",
]
