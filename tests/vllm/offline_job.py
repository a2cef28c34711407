"""One engine run on the offline vLLM backend (provider: vllm), run by the vLLM interpreter.

    python tests/vllm/offline_job.py MODEL_DIR WORKING_DIR N [MAX_TOKENS [DATA_PARALLEL_SIZE]]

Prints one JSON line: the output rows and the run's summary. A subprocess because vllm lives only
in .venv-vllm (the test suite runs from .venv); one process per run so repeats share nothing.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from thoughtmill.curation.engine import LLM, TeacherConfig
from thoughtmill.curation.engine.request import Response


class Noise(LLM):
    """Keeps everything a test can check on a random model: text, finish reason, token counts."""

    def prompt(self, row: dict[str, Any]) -> str:
        return row["problem"]

    def generation_params(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"seed": 1000 + row["id"]}  # a seed per row: repeatable, and rows differ

    def parse(self, row: dict[str, Any], response: Response) -> dict[str, Any]:
        return {
            "id": row["id"],
            "content": response.content,
            "reasoning_content": response.reasoning_content,
            "finish_reason": response.finish_reason,
            "prompt_tokens": response.usage.prompt_tokens,
            "completion_tokens": response.usage.completion_tokens,
        }


def teacher(model: str, max_tokens: int, data_parallel: int = 1) -> TeacherConfig:
    return TeacherConfig.from_dict(
        {
            "provider": "vllm",
            "model": model,
            "vllm": {"dtype": "float32", "max_model_len": 512, "seed": 0, "enforce_eager": True},
            "generation": {"temperature": 0.8, "top_p": 0.95, "max_tokens": max_tokens},
            "max_concurrency": 16,
            "data_parallel_size": data_parallel,
        }
    )


def main(model: str, working_dir: str, n: int, max_tokens: int = 24, data_parallel: int = 1) -> None:
    rows = [{"id": i, "problem": f"What is {i} plus {i + 3}? Think, then answer."} for i in range(n)]
    llm = Noise(teacher(model, max_tokens, data_parallel), working_dir=working_dir, progress=False)
    out = llm(rows)
    assert llm.last_run is not None
    summary = json.loads(llm.last_run.paths.summary.read_text())
    print(json.dumps({"rows": out.to_list(), "summary": summary}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *(int(a) for a in sys.argv[4:6]))
