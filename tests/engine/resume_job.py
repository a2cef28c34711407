"""A generation job run as its own process by the resume test (so it can be SIGKILLed)."""

from __future__ import annotations

import sys

from thoughtmill.curation.engine import LLM, TeacherConfig


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        return {"id": row["id"], "answer": response.content, "thinking": response.reasoning_content}


def main(base_url: str, working_dir: str, n: int, concurrency: int) -> None:
    teacher = TeacherConfig.from_dict(
        {
            "provider": "openai",
            "model": "fake-r1",
            "base_urls": [base_url],
            "max_concurrency": concurrency,
            "generation": {"temperature": 0.7},
            "retry": {"backoff_initial_s": 0.01, "backoff_max_s": 0.05},
        }
    )
    data = ({"id": i, "problem": f"resume problem {i}"} for i in range(n))
    out = Solve(teacher, working_dir=working_dir, progress=False, max_in_flight=concurrency)(data)
    print("ROWS", len(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
