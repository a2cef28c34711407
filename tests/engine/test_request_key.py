"""The cache key covers everything that can change an answer, and nothing that cannot."""

from __future__ import annotations

from thoughtmill.curation.engine import LLM, TeacherConfig


class Ask(LLM):
    def prompt(self, row):
        return row["q"]


def _teacher(**kw) -> TeacherConfig:
    base = {
        "provider": "openai",
        "model": "m",
        "base_urls": ["http://a/v1"],
        "generation": {"temperature": 0.5},
    }
    return TeacherConfig.from_dict({**base, **kw})


def _key(llm: LLM, row=None) -> str:
    return llm.build_request(0, row or {"q": "hello"}).cache_key()


def test_same_request_same_key(tmp_path):
    assert _key(Ask(_teacher(), working_dir=tmp_path)) == _key(Ask(_teacher(), working_dir=tmp_path))


def test_system_prompt_is_part_of_the_key(tmp_path):
    plain = _key(Ask(_teacher(), working_dir=tmp_path))
    with_system = _key(Ask(_teacher(), working_dir=tmp_path, system_prompt="Be terse."))
    other_system = _key(Ask(_teacher(), working_dir=tmp_path, system_prompt="Be verbose."))
    assert len({plain, with_system, other_system}) == 3


def test_generation_params_model_and_endpoint_are_in_the_key(tmp_path):
    base = _key(Ask(_teacher(), working_dir=tmp_path))
    assert _key(Ask(_teacher(generation={"temperature": 0.6}), working_dir=tmp_path)) != base
    assert _key(Ask(_teacher(), working_dir=tmp_path, generation={"seed": 1})) != base
    assert _key(Ask(_teacher(model="other"), working_dir=tmp_path)) != base
    assert _key(Ask(_teacher(base_urls=["http://b/v1"]), working_dir=tmp_path)) != base


def test_replicas_in_any_order_and_shared_namespace_share_keys(tmp_path):
    ab = _key(Ask(_teacher(base_urls=["http://a/v1", "http://b/v1"]), working_dir=tmp_path))
    ba = _key(Ask(_teacher(base_urls=["http://b/v1", "http://a/v1"]), working_dir=tmp_path))
    assert ab == ba
    ns1 = _key(Ask(_teacher(base_urls=["http://a/v1"], cache_namespace="r1"), working_dir=tmp_path))
    ns2 = _key(Ask(_teacher(base_urls=["http://c/v1"], cache_namespace="r1"), working_dir=tmp_path))
    assert ns1 == ns2


def test_api_key_never_enters_the_request(tmp_path, monkeypatch):
    monkeypatch.setenv("K1", "secret-one")
    request_a = Ask(_teacher(api_key_env="K1"), working_dir=tmp_path).build_request(0, {"q": "x"})
    monkeypatch.setenv("K1", "secret-two")
    request_b = Ask(_teacher(api_key_env="K1"), working_dir=tmp_path).build_request(0, {"q": "x"})
    assert request_a.cache_key() == request_b.cache_key()
    assert "secret" not in repr(request_a)


def test_parse_is_not_in_the_key(tmp_path):
    class AskOtherParse(Ask):
        def parse(self, row, response):
            return {"other": 1}

    assert _key(Ask(_teacher(), working_dir=tmp_path)) == _key(
        AskOtherParse(_teacher(), working_dir=tmp_path)
    )


def test_replay_recording_and_vllm_engine_args_are_in_the_key(tmp_path):
    import os

    recording = tmp_path / "r.jsonl"
    recording.write_text('{"prompt": "hello", "content": "hi"}\n')
    replay = {"provider": "replay", "model": "r", "replay": {"path": str(recording)}}
    before = _key(Ask(TeacherConfig.from_dict(replay), working_dir=tmp_path))
    assert _key(Ask(TeacherConfig.from_dict(replay), working_dir=tmp_path)) == before
    recording.write_text('{"prompt": "hello", "content": "hello there"}\n')
    os.utime(recording, ns=(1, 1))
    assert _key(Ask(TeacherConfig.from_dict(replay), working_dir=tmp_path)) != before

    offline = {"provider": "vllm", "model": "m", "vllm": {"max_model_len": 512}}
    other = {"provider": "vllm", "model": "m", "vllm": {"max_model_len": 1024}}
    assert _key(Ask(TeacherConfig.from_dict(offline), working_dir=tmp_path)) != _key(
        Ask(TeacherConfig.from_dict(other), working_dir=tmp_path)
    )
