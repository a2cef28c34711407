"""Benchmark data: local files in the layouts Evalchemy reads (Hub data is read by ``thoughtmill.hub``)."""

from thoughtmill.eval.data.files import read_records

__all__ = ["read_records"]
