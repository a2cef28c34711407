"""The async batching engine: teachers from config, cached and resumable LLM calls."""

from thoughtmill.curation.engine.backends.replay import ReplayConfig
from thoughtmill.curation.engine.cache import ResponseCache
from thoughtmill.curation.engine.config import Pricing, RetryConfig, TeacherConfig, load_teacher
from thoughtmill.curation.engine.dirlock import DirectoryBusy
from thoughtmill.curation.engine.llm import LLM
from thoughtmill.curation.engine.report import IncompleteRun
from thoughtmill.curation.engine.request import Request, Response, Usage
from thoughtmill.curation.engine.runner import Engine

__all__ = [
    "LLM",
    "DirectoryBusy",
    "Engine",
    "IncompleteRun",
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
