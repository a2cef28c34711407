"""A generation job run as its own process by the Ctrl-C test (so a real SIGINT can reach it)."""

from __future__ import annotations

import sys

from thoughtmill.curation.engine import LLM, TeacherConfig


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]

    def parse(self, row, response):
        if row["id"] == 0:
            print("ANSWERED", flush=True)  # answers are arriving: interrupt now
        return {"id": row["id"], "answer": response.content}


def main(base_url: str, working_dir: str, n: int) -> None:
    teacher = TeacherConfig.from_dict(
        {"provider": "openai", "model": "fake-r1", "base_urls": [base_url], "max_concurrency": 8}
    )
    out = Solve(teacher, working_dir=working_dir, progress=False)(
        [{"id": i, "problem": f"q{i}"} for i in range(n)]
    )
    print("ROWS", len(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
