"""Replicas added to or dropped from a teacher's endpoint list keep its cached answers.

A cache key holds the endpoint's identity, so one model id served by two different providers never
shares answers. Replicas of one endpoint must share them even as the list changes (a vLLM server
added to ``base_urls`` for a resumed run). So the cache records, for each replica it has served, the
identity its answers were stored under, and a teacher whose replicas overlap a recorded set takes
that set's identity: ``[a]`` then ``[a, b]`` then ``[b, c]`` all read and write the same answers;
``[d]`` alone, sharing no replica, is another endpoint.

The records are entries of the cache itself (checksummed, appended, rebuilt by ``cache rebuild``
with the answers), so they survive exactly what the answers survive. ``cache_namespace`` still
overrides all of this.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from thoughtmill.curation.engine.request import Response

if TYPE_CHECKING:
    from thoughtmill.curation.engine.cache import ResponseCache
    from thoughtmill.curation.engine.config import TeacherConfig

log = logging.getLogger("thoughtmill.engine")

_RECORD_MODEL = "thoughtmill/endpoint-lineage"  # marks a lineage record among the cached answers


def lineage_key(provider: str, replica: str) -> str:
    """The cache key of one replica's record (a hash like every other key, in its own namespace)."""
    return hashlib.sha256(f"endpoint-lineage\0{provider}\0{replica}".encode()).hexdigest()


def resolve_endpoint(cache: ResponseCache, teacher: TeacherConfig) -> str:
    """The identity this teacher's answers are cached under, recording any replica seen for the first time."""
    own = teacher.endpoint_identity()
    replicas = sorted(set(teacher.settings.endpoint_replicas()))
    if teacher.cache_namespace or not replicas:
        return own
    keys = {replica: lineage_key(teacher.provider, replica) for replica in replicas}
    found = cache.get_many(list(keys.values()))
    recorded = {
        replica: found[key].content
        for replica, key in keys.items()
        if key in found and found[key].model == _RECORD_MODEL
    }
    identity = recorded[min(recorded)] if recorded else own
    others = sorted(set(recorded.values()) - {identity})
    if others:
        log.warning(
            "teacher '%s': its replicas were cached as %d separate endpoints; answers are read and "
            "written as %s, those cached as %s are not used (set cache_namespace to choose)",
            teacher.label,
            len(others) + 1,
            identity,
            ", ".join(others),
        )
    new = [replica for replica in replicas if replica not in recorded]
    if new:
        try:
            cache.put_many([(keys[r], Response(content=identity, model=_RECORD_MODEL)) for r in new])
        except OSError as exc:  # the run goes on; storing its answers will fail loudly if this lasts
            log.warning("teacher '%s': cannot record its replicas in the cache: %s", teacher.label, exc)
            return identity
        if recorded:
            log.info(
                "teacher '%s': replica(s) %s join the cached endpoint %s",
                teacher.label,
                ", ".join(new),
                identity,
            )
    return identity
