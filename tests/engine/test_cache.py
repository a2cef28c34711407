"""The response cache's bulk paths agree with its one-key paths, and everything written checks clean."""

from __future__ import annotations

import asyncio
import random

from thoughtmill.curation.engine.cache import CacheWriter, ResponseCache
from thoughtmill.curation.engine.request import Response, Usage


def answer(i: int, size: int = 50, reasoning: bool = True) -> Response:
    return Response(
        content=f"answer {i} é∑ " + "x" * size,
        reasoning_content=f"thought {i}\n" * 3 if reasoning else None,
        finish_reason="stop",
        usage=Usage(prompt_tokens=i, completion_tokens=2 * i, reasoning_tokens=1, cached_tokens=0),
        model="m",
        from_cache=True,
    )


def test_put_many_is_read_back_by_get_and_get_many(tmp_path):
    cache = ResponseCache(tmp_path)
    items = [(f"k{i}", answer(i, reasoning=i % 2 == 0)) for i in range(20)]
    items.append(("big", answer(99, size=200_000)))  # compressed
    cache.put_many(items)
    assert len(cache) == 21
    many = cache.get_many([key for key, _ in items])
    for key, response in items:
        assert cache.get(key) == response
        assert many[key] == response
    cache.close()
    with ResponseCache(tmp_path) as reopened:  # another opening's view: count and values agree
        assert len(reopened) == 21 and reopened.check().clean
        assert reopened.get("k3") is not None


def test_get_many_matches_get_for_misses_duplicates_files_and_long_key_lists(tmp_path):
    cache = ResponseCache(tmp_path)
    rng = random.Random(1)
    incompressible = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(40_000))
    huge = Response(content=incompressible, finish_reason="stop")  # > 32 KB even compressed
    cache.put_many([("huge", huge), *((f"k{i}", answer(i)) for i in range(600))])
    segments = list((tmp_path / "segments").glob("*.seg"))
    assert len(segments) == 1 and segments[0].stat().st_size > 100_000, "answers live in one segment"
    keys = ["huge", "missing", "k1", "k1", *(f"k{i}" for i in range(600))]
    many = cache.get_many(keys)
    assert set(many) == {"huge", *(f"k{i}" for i in range(600))}
    assert all(many[key] == cache.get(key) for key in many)
    assert many["huge"].content == incompressible


def test_put_many_replaces_a_stored_key(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put("k", answer(1))
    cache.put_many([("k", answer(2)), ("new", answer(3))])
    assert len(cache) == 2
    assert cache.get("k") == answer(2) and cache.get_many(["k"])["k"] == answer(2)
    assert cache.check().clean


def test_cache_writer_reports_an_answer_committed_only_once_it_is(tmp_path):
    cache = ResponseCache(tmp_path)
    other = ResponseCache(tmp_path)  # another connection (another process, after a kill)
    seen_when_reported: dict[str, bool] = {}

    async def main() -> None:
        writer = CacheWriter(cache, max_batch=3, delay=0.05)
        for i in range(5):
            key = f"k{i}"
            writer.add(
                key,
                answer(i),
                lambda error, key=key: seen_when_reported.setdefault(
                    key, error is None and other.get(key) is not None
                ),
            )
            # visible to twins until committed (the third add commits its batch at once)
            assert writer.pending(key) == answer(i) or seen_when_reported[key]
        await asyncio.sleep(0.1)  # the last two are committed by the timer
        writer.close()

    asyncio.run(main())
    assert seen_when_reported == {f"k{i}": True for i in range(5)}
    assert len(other.get_many([f"k{i}" for i in range(5)])) == 5


def test_cache_writer_failure_reaches_every_callback(tmp_path, monkeypatch):
    cache = ResponseCache(tmp_path)

    def full_disk(items):
        raise OSError("disk full")

    monkeypatch.setattr(cache, "put_many", full_disk)
    results: list[BaseException | None] = []

    async def main() -> None:
        writer = CacheWriter(cache)
        for i in range(3):
            writer.add(f"k{i}", answer(i), results.append)
        writer.close()
        assert writer.pending("k0") is None

    asyncio.run(main())
    assert len(results) == 3 and all(isinstance(r, OSError) for r in results)
    assert cache.get("k0") is None


def test_writers_sharing_a_directory_append_to_their_own_segments(tmp_path):
    first, second = ResponseCache(tmp_path), ResponseCache(tmp_path)
    first.put_many([(f"a{i}", answer(i)) for i in range(5)])
    second.put_many([(f"b{i}", answer(i + 10)) for i in range(5)])
    assert len(list((tmp_path / "segments").glob("*.seg"))) == 2
    assert first.get("b3") == answer(13) and second.get("a3") == answer(3)
    pointers = first.index.lookup(["a0", "b4"])  # the index holds pointers only
    assert {p.segment for p in pointers.values()} == {p.name for p in (tmp_path / "segments").glob("*.seg")}
    first.close()
    second.close()


def test_new_entries_round_trip_every_field(tmp_path):
    cache = ResponseCache(tmp_path)
    odd = Response(
        content='line\n{"a": 1}\n',
        reasoning_content="",
        finish_reason="length",
        usage=Usage(1, 2, 3, 4),
        model='m\n"é"',
        from_cache=True,
    )
    none = Response(content="ü", reasoning_content=None, finish_reason=None, model=None, from_cache=True)
    items = [
        ("odd", odd),
        ("none", none),
        ("big", answer(7, size=50_000)),
        ("plain", answer(8, reasoning=False)),
    ]
    cache.put_many(items)
    pointers = cache.index.lookup([key for key, _ in items])
    stored = {key: cache.segments.read(pointers[key], key)[:1] for key, _ in items}
    assert stored == {"odd": b"f", "none": b"f", "big": b"g", "plain": b"f"}
    for key, response in items:
        assert cache.get(key) == response
