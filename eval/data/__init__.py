"""Benchmark data: the hub datasets Evalchemy uses, or local files in the same layouts."""

from thoughtmill.eval.data.files import read_records
from thoughtmill.eval.data.hub import HubSource, load_hub_records

__all__ = ["HubSource", "load_hub_records", "read_records"]
