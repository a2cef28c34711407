"""Where a dataset lives on the Hugging Face Hub, and the one place that reads it.

Sources, benchmark decontamination and the evaluator all read Hub datasets; they share this module so
that "a repo id, a config, a split, maybe some files in it" is written one way and a Hub that cannot be
reached is told apart from a bug one way. It imports neither ``curation`` nor ``eval``: each raises
its own exception family from the :class:`HubError` raised here (``HubError.explain``).
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # imported where used: the registry of benchmarks imports this module, and stays light
    import datasets

#: Data file suffixes and the ``datasets`` builder that reads them (on the Hub or on local disk).
FILE_BUILDERS = {
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".csv": "csv",
}


def builder_for(file: str) -> str | None:
    """The ``datasets`` builder that reads ``file`` (by its suffix), or None for an unknown suffix."""
    return FILE_BUILDERS.get(Path(file).suffix.lower())


@dataclass(frozen=True)
class HubLocation:
    """A dataset on the Hub: a repo id (with config and split), or some of its files.

    ``data_files`` are paths inside the repo (globs allowed), read with the builder their suffix names
    instead of the repo's own loader (for repos whose loading script ``datasets>=4`` refuses). An entry
    that is already a URL (``hf://...``, ``https://...``) or an absolute path is used as it is.
    ``revision`` is a branch, tag or commit (for files, it goes into their URLs).
    """

    repo: str
    split: str = "train"
    config: str | None = None
    data_files: tuple[str, ...] = ()
    revision: str | None = None

    def urls(self) -> list[str]:
        """The data files as ``datasets`` reads them."""
        at = f"@{quote(self.revision, safe='')}" if self.revision else ""
        return [
            file if "://" in file or Path(file).is_absolute() else f"hf://datasets/{self.repo}{at}/{file}"
            for file in self.data_files
        ]

    def builder(self) -> str:
        """The builder of the data files (the first file's suffix names it)."""
        builder = builder_for(self.data_files[0])
        if builder is None:
            raise ValueError(
                f"{self.repo}: cannot tell how to read {self.data_files[0]!r}; "
                f"expected one of {sorted(FILE_BUILDERS)}"
            )
        return builder

    def short(self) -> str:
        """The dataset, short (for logs and provenance): its first data file's URL, else the repo id."""
        return self.urls()[0] if self.data_files else self.repo

    def describe(self) -> str:
        """Where this reads from, for messages: the data files' URLs, or the repo id and config."""
        if self.data_files:
            return f"{', '.join(self.urls())} ({self.builder()} files, split {self.split!r})"
        config = f", config {self.config!r}" if self.config else ""
        revision = f", revision {self.revision!r}" if self.revision else ""
        return f"dataset {self.repo!r}{config}{revision}, split {self.split!r}"


class HubError(Exception):
    """Reading from the Hub failed for a reason of the Hub's (network, access, a missing dataset).

    ``where`` names what was read and ``failure`` the exception that says why; the original exception
    is chained. Callers turn it into their own family with :meth:`explain`.
    """

    def __init__(self, where: str, failure: BaseException) -> None:
        self.where = where
        self.failure = failure
        super().__init__(f"cannot read {where} from the Hugging Face Hub ({self.reason()})")

    def reason(self) -> str:
        first_line = (str(self.failure).strip().splitlines() or [""])[0]
        return f"{type(self.failure).__name__}: {first_line}"

    def explain(self, subject: str, local_hint: str, *, requested: str | Path | None = None) -> str:
        """The full message: who read (``subject``), what, why, and how to go on (``local_hint``).

        ``requested`` is a path the caller was given that was no local file, so it was read as a Hub id.
        """
        not_local = (
            f"{str(requested)!r} is no local file or folder, so it was read as a Hub dataset id; "
            if requested is not None
            else ""
        )
        return (
            f"{subject}: {not_local}cannot read {self.where} from the Hugging Face Hub ({self.reason()}). "
            "Check the network connection and Hub access (log in or set HF_TOKEN for a gated dataset; "
            "with HF_HUB_OFFLINE=1 only data already in the cache can be read), or download the data "
            f"and {local_hint}."
        )


#: Top-level packages of the HTTP clients under ``huggingface_hub``/``fsspec``: their network errors
#: (httpx's ``ConnectError``, for one) do not all derive from OSError.
_HTTP_PACKAGES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3", "aiohttp"})

#: OSErrors about the local disk (the Arrow cache filling up while a stream is written, say).
_LOCAL_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def hub_failure(exc: BaseException) -> BaseException | None:
    """The exception in ``exc``'s cause chain that says the Hub, or the data on it, could not be read.

    ``datasets`` re-raises network failures as ``ConnectionError``/``FileNotFoundError`` and wraps those
    of a streamed read in ``DatasetGenerationError``, so the whole chain is inspected. A full local
    disk is not the Hub's fault: None, and the caller lets the original error through.
    """
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _LOCAL_DISK_ERRORS:
            return None
        if isinstance(current, (OSError, EntryNotFoundError, HFValidationError)):
            return current  # OSError covers HfHubHTTPError, OfflineModeIsEnabled, DatasetNotFoundError
        if type(current).__module__.partition(".")[0] in _HTTP_PACKAGES:
            return current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return None


def materialise(stream: datasets.IterableDataset) -> datasets.Dataset:
    """Write a streamed dataset to an on-disk Arrow file (rows are never all held in memory)."""
    import datasets

    def rows() -> Iterator[dict[str, Any]]:
        yield from stream

    return datasets.Dataset.from_generator(rows, features=stream.features)


def _load(location: HubLocation, *, streaming: bool) -> datasets.Dataset | datasets.IterableDataset:
    import datasets

    kwargs: dict[str, Any] = {"split": location.split}
    if streaming:
        kwargs["streaming"] = True
    if location.data_files:
        urls = location.urls()
        kwargs["data_files"] = {location.split: urls[0] if len(urls) == 1 else urls}
        return datasets.load_dataset(location.builder(), **kwargs)
    if location.config:
        kwargs["name"] = location.config
    if location.revision:
        kwargs["revision"] = location.revision
    return datasets.load_dataset(location.repo, **kwargs)


def read_hub(
    location: HubLocation,
    *,
    limit: int | None = None,
    streaming: bool = False,
    columns: Sequence[str] | None = None,
) -> datasets.Dataset:
    """Read ``location`` into an Arrow-backed Dataset; a HubError when the Hub cannot be read.

    ``streaming`` reads lazily (only ``limit`` rows when given, only ``columns`` when given) and writes
    what it read to an Arrow file, so a large dataset is never held in memory nor fully downloaded.
    """
    try:
        if not streaming:
            ds = _load(location, streaming=False)
            return ds.select_columns(list(columns)) if columns is not None else ds
        stream = _load(location, streaming=True)
        if columns is not None:
            stream = stream.select_columns(list(columns))
        if limit is not None:
            stream = stream.take(limit)
        return materialise(stream)
    except Exception as exc:
        failure = hub_failure(exc)
        if failure is None:
            raise
        raise HubError(location.describe(), failure) from exc


def download_file(repo: str, filename: str) -> Path:
    """One file of a dataset repo, downloaded to (or found in) the Hub cache; a HubError on failure."""
    import huggingface_hub

    try:
        return Path(huggingface_hub.hf_hub_download(repo, filename, repo_type="dataset"))
    except Exception as exc:
        failure = hub_failure(exc)
        if failure is None:
            raise
        raise HubError(f"{filename} of dataset {repo!r}", failure) from exc
