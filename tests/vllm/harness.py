"""The vLLM environment and a real vLLM OpenAI server as a managed process.

vLLM needs transformers >= 5.16, which LLaMA-Factory refuses, so it lives in its own venv
(`make vllm-env` builds `.venv-vllm`). pytest runs from the main `.venv`, which has no vllm: every
vLLM part runs as a subprocess of the vLLM interpreter found here. Used by tests/vllm and by
bench/gpu_check.sh (through bench/gpu_paths.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from thoughtmill.training.environment import venv_interpreter

ENV_VAR = "THOUGHTMILL_VLLM_PYTHON"
VENV_NAME = ".venv-vllm"
REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_MODEL_DIR = REPO_ROOT / ".cache" / "tiny-model" / "vllm"


def find_vllm_python() -> Path | None:
    """$THOUGHTMILL_VLLM_PYTHON, else <repo>/.venv-vllm/bin/python, else None."""
    return venv_interpreter(ENV_VAR, VENV_NAME, (REPO_ROOT,))


def missing_message() -> str:
    return (
        f"the vLLM environment is missing: no {VENV_NAME}/bin/python under {REPO_ROOT} and {ENV_VAR} is "
        f"unset. Build it with `make vllm-env` (~2 min, CPU build of vllm), or point {ENV_VAR} at a Python "
        "that has vllm and this project installed."
    )


def vllm_env(*, in_process: bool = False, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for vLLM subprocesses: no hub, a small CPU KV cache, the repo importable.

    Without VLLM_CPU_KVCACHE_SPACE vLLM reserves most of a NUMA node and fails on this machine;
    ``in_process`` runs the offline engine in one process (no __main__ guard, starts twice as fast).
    """
    env = dict(os.environ)
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "VLLM_NO_USAGE_STATS": "1",
            "DO_NOT_TRACK": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    if in_process:
        env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("VIRTUAL_ENV", None)
    if extra:
        env.update(extra)
    return env


def build_tiny_model(python: Path, out_dir: Path = TINY_MODEL_DIR, timeout: float = 300) -> Path:
    """The shared tiny Qwen2 model (training.tiny_model), built by the vLLM interpreter, hash-cached."""
    proc = subprocess.run(
        [str(python), "-m", "thoughtmill.training.tiny_model", str(out_dir)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=vllm_env(),
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"tiny model build failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
    return Path(json.loads(proc.stdout.strip().splitlines()[-1])["path"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class VLLMServer:
    """`python -m vllm.entrypoints.openai.api_server` on 127.0.0.1, in its own process group.

    The group holds the API server and its engine-core child, so killing the group by the server's
    PID leaves nothing behind. The port is fixed at construction: a restart serves the same URL, so
    the engine's cache keys (which include the endpoint) still match.
    """

    def __init__(
        self,
        python: Path,
        model: Path,
        *,
        served_name: str = "tiny",
        port: int | None = None,
        log_path: Path,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.python, self.model, self.served_name = python, model, served_name
        self.port = port or free_port()
        self.log_path = log_path
        # "uni": the model runs inside the engine-core process, no separate worker (starts ~2x faster)
        self.extra_args = (
            extra_args
            if extra_args is not None
            else [
                "--dtype",
                "float32",
                "--enforce-eager",
                "--distributed-executor-backend",
                "uni",
            ]
        )
        self.env = env or vllm_env()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client (and the engine's base_urls) points at."""
        return f"{self.url}/v1"

    def start(self) -> None:
        cmd = [
            str(self.python),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(self.model),
            "--served-model-name",
            self.served_name,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--max-model-len",
            "512",
            "--seed",
            "0",
            "--disable-uvicorn-access-log",
            *self.extra_args,
        ]
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n=== start {self.starts}: {' '.join(cmd)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO_ROOT, start_new_session=True
        )
        log.close()

    def wait_ready(self, timeout: float = 240) -> float:
        """Poll /health until it answers 200; returns the seconds waited. A dead server fails at once."""
        assert self.proc is not None
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"vLLM server not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole group (a crash, not a shutdown)."""
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM the group, then SIGKILL what is left after ``grace`` seconds."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def _signal_group(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)  # the group id is the server's PID (start_new_session)

    def metric(self, name: str) -> float:
        """Sum of a Prometheus counter over its label sets (e.g. vllm:request_success_total)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as reply:
            text = reply.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and line[len(name)] in "{ ":
                total += float(line.rsplit(" ", 1)[1])
        return total

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "<no log>"


def read_results(output: Path, model_name: str = "tiny") -> dict[str, Any]:
    """The one Evalchemy results file an evaluator run wrote under ``output/<model_name>/``."""
    files = sorted((output / model_name).glob("results_*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


def read_generations(output: Path, task: str = "AIME24", model_name: str = "tiny") -> list[dict[str, Any]]:
    """Every saved generation of ``task``, ordered by (example, repeat)."""
    lines = []
    for path in sorted((output / model_name / "generations" / task).glob("generations*.jsonl")):
        lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(lines, key=lambda r: (r["example_index"], r["repeat"]))


#: Top-level keys of an Evalchemy results file.
RESULTS_KEYS = {"results", "config", "git_hash", "date", "start_time", "end_time",
                "total_evaluation_time_seconds", "versions"}  # fmt: skip


def assert_aime_layout(saved: dict[str, Any], examples: int, repeats: int, backend: str) -> dict[str, Any]:
    """An AIME24 results file in the Evalchemy layout: counts per repeat and per example."""
    assert set(saved) >= RESULTS_KEYS
    aime = saved["results"]["AIME24"]
    assert (aime["num_total"], aime["num_repeat"], len(aime["run_stats"])) == (examples, repeats, repeats)
    assert 0.0 <= aime["accuracy_avg"] <= 1.0 and aime["accuracy_std_err"] >= 0.0
    assert len(aime["examples"]) == examples
    for example in aime["examples"]:
        assert (
            len(example["model_outputs"])
            == len(example["model_answers"])
            == len(example["correct"])
            == repeats
        )
    assert saved["config"]["model_args"]["backend"] == backend
    return aime


def run_in_vllm_env(args: list[str], what: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a command from the repo root in the vLLM environment (one process); fail the test on error."""
    proc = subprocess.run(
        args, capture_output=True, text=True, cwd=REPO_ROOT, env=vllm_env(in_process=True),
        timeout=timeout, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, (
        f"{what} failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    return proc
