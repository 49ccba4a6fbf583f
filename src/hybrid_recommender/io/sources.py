"""A data set as downloaded: a zip, a tar(.gz) archive, or the folder it extracts to.

Loaders read members through one interface, so each accepts any of the three forms.
Members are streamed in one pass: a gzip'd tar has no random access.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hybrid_recommender.errors import InputDataError

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class DataSource:
    """One located data set. ``names()`` are POSIX paths of files relative to the archive or folder."""

    path: Path

    @property
    def kind(self) -> str:
        name = self.path.name.lower()
        if self.path.is_dir():
            return "dir"
        if name.endswith(".zip"):
            return "zip"
        if name.endswith((".tar.gz", ".tgz", ".tar")):
            return "tar"
        return "file"

    def names(self) -> list[str]:
        """Every regular file in the source, sorted, so iteration order never depends on the archive."""
        kind = self.kind
        try:
            if kind == "dir":
                return sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())
            if kind == "zip":
                with zipfile.ZipFile(self.path) as zf:
                    return sorted(i.filename for i in zf.infolist() if not i.is_dir())
            if kind == "tar":
                with tarfile.open(self.path) as tf:
                    return sorted(m.name for m in tf.getmembers() if m.isfile())
            return [self.path.name]
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise InputDataError(f"{self.path}: cannot be read as a {kind} archive ({exc}).") from exc

    def iter_files(self, wanted: Iterable[str] | Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
        """Yield ``(name, bytes)`` for the wanted members, in sorted name order."""
        keep = wanted if callable(wanted) else set(wanted).__contains__
        names = [n for n in self.names() if keep(n)]
        kind = self.kind
        try:
            if kind == "dir":
                for name in names:
                    yield name, (self.path / name).read_bytes()
            elif kind == "zip":
                with zipfile.ZipFile(self.path) as zf:
                    for name in names:
                        yield name, zf.read(name)
            elif kind == "tar":
                # One sequential pass, then sorted: keeps order stable without random access into gzip.
                wanted_set = set(names)
                blobs: dict[str, bytes] = {}
                with tarfile.open(self.path) as tf:
                    for member in tf:
                        if member.isfile() and member.name in wanted_set:
                            blobs[member.name] = tf.extractfile(member).read()
                for name in names:
                    yield name, blobs.pop(name)
            else:
                for name in names:
                    yield name, self.path.read_bytes()
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise InputDataError(f"{self.path}: reading failed part-way ({exc}); re-download the archive.") from exc

    def read(self, name: str) -> bytes:
        for _, data in self.iter_files([name]):
            return data
        raise InputDataError(f"{self.path}: expected a file {name!r} inside, found none.")

    @contextmanager
    def local_copy(self, name: str) -> Iterator[Path]:
        """A real file path for a member (video decoders need one); temporary when it comes from an archive."""
        if self.kind == "dir":
            yield self.path / name
            return
        tmp = Path(tempfile.mkdtemp(prefix="hybrid-recommender-"))
        try:
            target = tmp / PurePosixPath(name).name
            target.write_bytes(self.read(name))
            yield target
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def find_source(root: str | Path, candidates: Iterable[str]) -> DataSource | None:
    """The first of ``candidates`` (file or folder names) that exists under ``root``, else None."""
    root = Path(root)
    for candidate in candidates:
        path = root / candidate
        if path.exists() and not (path.is_dir() and not any(path.iterdir())):
            return DataSource(path)
    return None


def strip_prefix(name: str, marker: str) -> str | None:
    """The part of a member name from the folder ``marker`` on (``x/y/CK+48/a.png`` -> ``CK+48/a.png``).

    Archives are often repacked under an extra top folder; this finds the official layout wherever it starts.
    """
    parts = PurePosixPath(name).parts
    if marker in parts:
        return "/".join(parts[parts.index(marker):])
    return None
