"""The provider registry is open: a provider defined here (settings model + backend talking to a real
HTTP server on 127.0.0.1) is registered with one call, then selected by name from a teacher YAML by
``LLM(...)`` and by the evaluator's CLI, with its own keys validated strictly."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, cast

import aiohttp
import pytest
from pydantic import Field
from thoughtmill.curation.engine import LLM, TeacherConfig
from thoughtmill.curation.engine.backends import Backend, ProviderSettings
from thoughtmill.curation.engine.errors import RequestFailed
from thoughtmill.curation.engine.providers import get_provider, register_provider, unregister_provider
from thoughtmill.curation.engine.request import Request, Response, Usage
from thoughtmill.curation.errors import ConfigError
from thoughtmill.eval.cli import app
from typer.testing import CliRunner

EVAL_DATA = Path(__file__).resolve().parents[1] / "data" / "eval"
NAME = "scripted-http"


class ScriptedSettings(ProviderSettings):
    """This provider's own keys, written at the top level of its teacher YAML."""

    url: str
    route: str = Field("/answer", description="path of the answering endpoint")


class ScriptedBackend(Backend):
    """POSTs the last user message and the seed; the server's JSON reply is the answer."""

    def __init__(self, config: TeacherConfig) -> None:
        super().__init__(config)
        self.settings = cast(ScriptedSettings, config.settings)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def complete(self, request: Request) -> Response:
        assert self.session is not None
        body = {"prompt": request.last_user_text(), "seed": request.params.get("seed")}
        async with self.session.post(self.settings.url + self.settings.route, json=body) as reply:
            if reply.status != 200:
                raise RequestFailed(f"HTTP {reply.status}")
            answer = await reply.json()
        return Response(
            content=answer["content"], finish_reason="stop", usage=Usage(prompt_tokens=3, completion_tokens=5)
        )


class ScriptServer(BaseHTTPRequestHandler):
    """Answers from the evaluator's fake-teacher script: the first row whose ``match`` occurs in the
    prompt and whose seed (when given) is the request's; anything else is echoed."""

    rows: ClassVar[list[dict[str, Any]]] = [
        json.loads(line) for line in (EVAL_DATA / "fake_teacher_script.jsonl").read_text().splitlines()
    ]
    prompts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.prompts.append(body["prompt"])
        row = next(
            (r for r in self.rows if r["match"] in body["prompt"] and r.get("seed") in (None, body["seed"])),
            None,
        )
        content = row["content"] if row else f"echo: {body['prompt']}"
        payload = json.dumps({"content": content}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ScriptServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    ScriptServer.prompts = []
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def provider() -> Iterator[None]:
    register_provider(NAME, ScriptedSettings, ScriptedBackend)  # the one call a new provider needs
    yield
    unregister_provider(NAME)


def teacher_yaml(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "scripted.yaml"
    path.write_text(f"name: scripted\nprovider: {NAME}\nmodel: scripted-model\nurl: {url}\n{extra}")
    return path


class Echo(LLM):
    def prompt(self, row: dict[str, Any]) -> str:
        return row["question"]

    def parse(self, row: dict[str, Any], response: Response) -> dict[str, Any]:
        return {**row, "answer": response.content}


def test_a_provider_registered_in_a_test_serves_the_engine_from_yaml(
    provider: None, server: str, tmp_path: Path
) -> None:
    path = teacher_yaml(tmp_path, server)
    out = Echo(str(path), working_dir=tmp_path / "w", progress=False)(
        [{"question": "hello"}, {"question": "bye"}]
    )
    assert out.to_list() == [
        {"question": "hello", "answer": "echo: hello"},
        {"question": "bye", "answer": "echo: bye"},
    ]
    assert sorted(ScriptServer.prompts) == ["bye", "hello"]  # each asked once (sent at once: any order)
    teacher = TeacherConfig.from_yaml(path)
    assert teacher.endpoint_identity().startswith(f"{NAME}:")
    # a dump is the YAML shape again (the provider's keys at the top level) and loads as the same teacher
    assert teacher.model_dump()["url"] == server
    assert TeacherConfig.from_dict(teacher.model_dump()) == teacher


def test_the_evaluator_selects_the_registered_provider_from_a_teacher_yaml(
    provider: None, server: str, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    result = CliRunner().invoke(
        app,
        [
            "--teacher-config",
            str(teacher_yaml(tmp_path, server)),
            "--tasks",
            "MATH500",
            "--data",
            f"MATH500={EVAL_DATA / 'math500.jsonl'}",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(next((out / "scripted-model").glob("results_*.json")).read_text())
    assert saved["results"]["MATH500"]["accuracy"] == 0.75
    assert saved["config"]["backend"] == NAME and saved["config"]["model_args"]["backend"] == NAME
    assert len(ScriptServer.prompts) == 4


def test_the_providers_own_keys_are_checked_strictly(provider: None, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rout: unknown key .*provider 'scripted-http' takes url, route"):
        TeacherConfig.from_yaml(teacher_yaml(tmp_path, "http://x", "rout: /a\n"))
    with pytest.raises(ConfigError, match="url: required field is missing"):
        TeacherConfig.from_dict({"provider": NAME, "model": "m"})
    # another provider's key is not this one's
    with pytest.raises(ConfigError, match="base_urls: unknown key"):
        TeacherConfig.from_yaml(teacher_yaml(tmp_path, "http://x", "base_urls: [http://y]\n"))


def test_unknown_and_duplicate_providers_are_named(provider: None) -> None:
    with pytest.raises(ConfigError, match=r"provider: unknown provider 'nope' \(known providers: .*openai"):
        TeacherConfig.from_dict({"provider": "nope", "model": "m"})
    with pytest.raises(ValueError, match="already registered"):
        register_provider(NAME, ScriptedSettings, ScriptedBackend)
    assert get_provider(NAME).settings is ScriptedSettings


def test_settings_may_not_reuse_a_common_teacher_key(tmp_path: Path) -> None:
    class Clashing(ProviderSettings):
        max_concurrency: int = 3

    register_provider("clashing", Clashing, ScriptedBackend)
    try:
        with pytest.raises(ConfigError, match="reuse common teacher keys"):
            TeacherConfig.from_dict({"provider": "clashing", "model": "m"})
    finally:
        unregister_provider("clashing")
