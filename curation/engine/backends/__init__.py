"""Teacher backends, one module per provider (its settings model and its backend).

Which backend a teacher uses is looked up by ``TeacherConfig.provider`` in
``curation.engine.providers``, where the built-in providers are registered.
"""

from __future__ import annotations

from thoughtmill.curation.engine.backends.base import Backend, ProviderSettings

__all__ = ["Backend", "ProviderSettings"]
