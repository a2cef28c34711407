"""Answer extraction and scoring, shared by the benchmarks (math, multiple choice, code)."""
