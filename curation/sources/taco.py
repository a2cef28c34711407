"""BAAI/TACO: APPS-style problems (``question``, ``solutions``, ``input_output``, ``starter_code``, ``url``,
``difficulty``, ``picture_num``, ...) from many judges.
"""

from __future__ import annotations

from typing import Any

from thoughtmill.curation.sources.apps import AppsStyleSource
from thoughtmill.curation.sources.registry import register_source

from thoughtmill.hub import HubLocation


@register_source
class Taco(AppsStyleSource):
    """TACO. The Hub repo's loading script is refused by datasets>=4; its Arrow shards are read directly."""

    name = "taco"

    def image_reason(self, row: dict[str, Any]) -> str:
        pictures = row.get("picture_num")
        try:
            return "image" if pictures and int(pictures) > 0 else ""
        except (TypeError, ValueError):
            return ""

    def hub(self, split: str) -> HubLocation:
        return HubLocation("BAAI/TACO", split, data_files=(f"{split}/*.arrow",))
