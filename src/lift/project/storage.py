"""The data store: where every artifact lives (``data_root`` in conf/base/globals.yml, a local
folder or any fsspec URL such as ``s3://bucket/lift``, with the credentials named
``data_store``), and where one artifact's files are, found through fsspec from the catalog's
configuration alone (its ``filepath``, ``credentials``, ``fs_args``, ``versioned``): the same
code on a local folder and on an object store, and no private member of Kedro's datasets."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
from fsspec import AbstractFileSystem

from lift.config.errors import DatasetInputError

ROOT = "data_root"  # the global every catalog path starts with
CREDENTIALS = "data_store"  # the credentials (conf/local/credentials.yml) of every artifact
DIGEST_CHARS = 16


@dataclass(frozen=True)
class Store:
    """A folder of the data store on its filesystem (``url`` as configured)."""

    url: str
    fs: AbstractFileSystem
    path: str

    @classmethod
    def at(cls, url: str, options: dict[str, Any] | None = None) -> Store:
        fs, path = fsspec.core.url_to_fs(url, **(options or {}))
        return cls(url, fs, path.rstrip("/"))

    def child(self, name: str) -> Store:
        return Store(f"{self.url.rstrip('/')}/{name}", self.fs, f"{self.path}/{name}")

    def check_reachable(self) -> None:
        """Raise, naming ``data_root``, if the store cannot be listed (an object store that
        does not answer, credentials it refuses): said before any work, not in a node."""
        try:
            self.fs.ls(self.path, detail=False)
        except FileNotFoundError:  # nothing saved there yet
            pass
        except Exception as error:  # the filesystem's own error: botocore's, aiohttp's, OSError
            raise DatasetInputError(
                f"The data store `{ROOT}: {self.url}` (conf/base/globals.yml, or an "
                f"environment's globals) cannot be reached: {type(error).__name__}: {error}. "
                f"Check that it runs and that the credentials `{CREDENTIALS}` "
                "(conf/local/credentials.yml) are right (docs/how-to/cluster.md)."
            ) from error


def project_store(project_path: Path | str, globals_: dict, credentials: dict) -> Store:
    """The data store of a project: ``data_root`` (relative to the project if local) and the
    credentials ``data_store``."""
    root = str(globals_.get(ROOT, "data"))
    if "://" not in root and not Path(root).is_absolute():
        root = str(Path(project_path) / root)
    return Store.at(root, credentials.get(CREDENTIALS) or {})


@dataclass(frozen=True)
class Artifact:
    """Where a catalog artifact's files are: ``path`` on ``fs`` is its file or folder, or, for
    a versioned artifact, the folder of its versions (Kedro's ``<path>/<version>/<name>``)."""

    fs: AbstractFileSystem
    path: str
    versioned: bool

    def at(self, version: str | None) -> str:
        """The file or folder of ``version`` (the artifact's own path if not versioned)."""
        if not self.versioned or version is None:
            return self.path
        return f"{self.path}/{version}/{PurePosixPath(self.path).name}"

    def saved(self, version: str | None) -> str | None:
        """The path of ``version`` if it is saved, else None."""
        path = self.at(version)
        return path if self.fs.exists(path) else None

    def versions(self) -> list[str]:
        """The saved versions, oldest first."""
        if not self.versioned or not self.fs.isdir(self.path):
            return []
        return sorted(PurePosixPath(p).name for p in self.fs.ls(self.path, detail=False))

    @property
    def local(self) -> bool:
        return local(self.fs)

    def url(self, path: str) -> str:
        """``path`` as a user finds it: a local path, or the store's URL."""
        return path if self.local else self.fs.unstrip_protocol(path)

    def saved_version(self, catalog: Any, name: str) -> str | None:
        """The version artifact ``name`` of ``catalog`` was just saved as (None if it is not
        versioned)."""
        return catalog.get(name).resolve_save_version() if self.versioned else None

    def digest(self, version: str | None) -> str:
        """Digest of the bytes of ``version`` (a folder's: its files' relative paths and
        bytes), or "" where it is not saved."""
        path = self.saved(version)
        return digest_of(self.fs, path) if path else ""


def local(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` is this machine's own disk."""
    return "file" in fs.protocol


def artifact(catalog: Any, name: str) -> Artifact | None:
    """Where artifact ``name`` of ``catalog`` keeps its files, or None (in memory, or added
    in code rather than configured)."""
    config = catalog.config_resolver.resolve_pattern(name) if name in catalog else None
    filepath = (config or {}).get("filepath")
    if not filepath:
        return None
    credentials = config.get("credentials")
    options = {**(credentials if isinstance(credentials, dict) else {})}
    options.update(
        {k: v for k, v in (config.get("fs_args") or {}).items() if not k.startswith("open_args")}
    )
    fs, path = fsspec.core.url_to_fs(str(filepath), **options)
    return Artifact(fs, path.rstrip("/"), bool(config.get("versioned")))


def digest_of(fs: AbstractFileSystem, path: str) -> str:
    """Digest of a file's bytes, or of a folder's files (their relative paths and bytes)."""
    sha = hashlib.sha256()
    if fs.isdir(path):
        files = [(f[len(path.rstrip("/")) + 1 :], f) for f in sorted(fs.find(path))]
    else:
        files = [(PurePosixPath(path).name, path)]
    for relative, file in files:
        sha.update(relative.encode())
        with fs.open(file, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                sha.update(block)
    return sha.hexdigest()[:DIGEST_CHARS]
