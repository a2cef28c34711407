"""An LLM call with its live progress display, run by a test on a pseudo-terminal:
python progress_job.py BASE_URL WORKING_DIR ROWS"""

from __future__ import annotations

import sys

from thoughtmill.curation.engine import LLM, TeacherConfig


class Solve(LLM):
    def prompt(self, row):
        return row["problem"]


if __name__ == "__main__":
    teacher = TeacherConfig.from_dict(
        {"provider": "openai", "model": "fake-r1", "base_urls": [sys.argv[1]], "max_concurrency": 4,
         "pricing": {"input_per_million": 1000.0, "output_per_million": 1000.0}}
    )  # fmt: skip
    rows = [{"problem": f"problem {i}"} for i in range(int(sys.argv[3]))]
    Solve(teacher, working_dir=sys.argv[2])(rows)
