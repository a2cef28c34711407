# Code execution backend (execution/): its tests and benchmark on their own.
.PHONY: test-execution bench-execution bench-execution-quick sandbox-report

test-execution: venv sysdeps
	$(BIN)/python -m pytest -q tests/execution

sandbox-report: venv sysdeps
	$(BIN)/python -c "import json; from thoughtmill import execution; print(json.dumps(execution.sandbox_report(), indent=2))"

bench-execution: venv sysdeps
	$(BIN)/python bench/execution.py

bench-execution-quick: venv sysdeps
	$(BIN)/python bench/execution.py --solutions 200 --baseline-solutions 40 --heavy 6
