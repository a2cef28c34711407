"""A mode: batch generation job run as its own process by the kill test (so it can be SIGKILLed)."""

from __future__ import annotations

import json
import sys

from thoughtmill.curation.engine import LLM, TeacherConfig


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {"id": row["id"], "answer": response.content, "thinking": response.reasoning_content}


def teacher(provider: str, url: str, max_requests: int) -> TeacherConfig:
    common = {
        "model": "batch-test",
        "api_key_env": "FAKE_BATCH_KEY",
        "mode": "batch",
        "batch": {"poll_interval_s": 0.05, "max_requests": max_requests},
        "timeout_s": 10,
        "retry": {"max_attempts": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.05},
        "pricing": {"input_per_million": 2.0, "output_per_million": 8.0},
    }
    if provider == "openai":
        return TeacherConfig.from_dict({**common, "provider": "openai", "base_urls": [url + "/v1"]})
    return TeacherConfig.from_dict({**common, "provider": "anthropic", "base_url": url})


def main(provider: str, url: str, working_dir: str, n: int, max_requests: int) -> None:
    rows = ({"id": i, "problem": f"kill problem {i}"} for i in range(n))  # a one-shot generator on purpose
    llm = Solve(teacher(provider, url, max_requests), working_dir=working_dir, progress=False)
    out = llm(rows)
    print("ROWS", len(out), flush=True)
    print("STATS", json.dumps(llm.stats), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
