"""A data set as downloaded: a zip, a tar(.gz) archive, or the folder it extracts to.

Loaders read members through one interface, so each accepts any of the three forms.
Members are streamed in one pass: a gzip'd tar has no random access.
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hybrid_recommender.errors import InputDataError

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
# What reading one member can raise while the archive itself is fine (bad CRC, corrupt deflate data, ...).
MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError)
OnError = Callable[[str, str], None]


@functools.lru_cache(maxsize=8)
def _tar_members(path: Path, mtime_ns: int, size: int) -> tuple[tuple[str, str], ...]:
    """(name, type) of every member: f file, d folder, l link, s special. Cached: a .tar.gz is read whole to
    list it, and a loader lists it more than once. Keyed by the file's time and size, so a new copy is re-read."""
    with tarfile.open(path) as tf:
        return tuple((m.name, "f" if m.isfile() else "d" if m.isdir() else "l" if m.issym() or m.islnk() else "s")
                     for m in tf.getmembers())


def _hidden(name: str) -> bool:
    return PurePosixPath(name).name.startswith(".")


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

    def where(self, name: str) -> str:
        """Where a member is, for messages and skip rows: ``folder/member``, ``archive!member`` or the file."""
        kind = self.kind
        if kind == "dir":
            return f"{self.path}/{name}"
        return f"{self.path}!{name}" if kind in ("zip", "tar") else str(self.path)

    def _check_link(self) -> None:
        if self.path.is_symlink() and not self.path.exists():
            raise InputDataError(f"{self.path}: a broken link (it points to {os.readlink(self.path)}, which does not "
                                 "exist); point it at the downloaded archive or folder, or replace it by the data set.")

    def _tar_listing(self) -> tuple[tuple[str, str], ...]:
        info = self.path.stat()
        return _tar_members(self.path.resolve(), info.st_mtime_ns, info.st_size)

    def names(self) -> list[str]:
        """Every regular file in the source, sorted, so iteration order never depends on the archive."""
        self._check_link()
        kind = self.kind
        try:
            if kind == "dir":
                return sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())
            if kind == "zip":
                with zipfile.ZipFile(self.path) as zf:
                    return sorted(i.filename for i in zf.infolist() if not i.is_dir())
            if kind == "tar":
                return sorted(name for name, type_ in self._tar_listing() if type_ == "f")
            return [self.path.name]
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise InputDataError(f"{self.path}: cannot be read as a {kind} archive ({exc}).") from exc

    def not_files(self, suffixes: tuple[str, ...]) -> dict[str, str]:
        """Entries named like a file (ending in one of ``suffixes``) that are not a readable regular file, each
        with what it is instead: a folder, a broken link, a link inside an archive, a special file.

        ``names()`` leaves these out; loaders count them as skips so that none disappears silently.
        """
        self.names()  # an unreadable archive is one clear error, raised here
        kind, found = self.kind, {}

        def looks_like_file(name: str) -> bool:
            return name.lower().endswith(suffixes) and not _hidden(name)

        if kind == "dir":
            for path in self.path.rglob("*"):
                name = path.relative_to(self.path).as_posix()
                if not looks_like_file(name) or path.is_file():
                    continue
                if path.is_symlink() and not path.exists():
                    found[name] = "a broken link"
                elif path.is_dir():
                    found[name] = "a folder"
                else:
                    found[name] = "a special file (" + stat.filemode(path.lstat().st_mode) + ")"
        elif kind == "zip":
            with zipfile.ZipFile(self.path) as zf:
                found = {i.filename.rstrip("/"): "a folder" for i in zf.infolist()
                         if i.is_dir() and looks_like_file(i.filename.rstrip("/"))}
        elif kind == "tar":
            what = {"d": "a folder", "l": "a link inside the archive (not followed)", "s": "a special file"}
            found = {name: what[type_] for name, type_ in self._tar_listing() if type_ != "f" and looks_like_file(name)}
        return dict(sorted(found.items()))

    def iter_files(self, wanted: Iterable[str] | Callable[[str], bool],
                   on_error: OnError | None = None) -> Iterator[tuple[str, bytes]]:
        """Yield ``(name, bytes)`` for the wanted members, in sorted name order.

        A member that cannot be read (bad CRC, corrupt data, permission denied) goes to ``on_error(name,
        reason)`` when given, so one broken member costs only itself; without it, it is an InputDataError.
        """
        keep = wanted if callable(wanted) else set(wanted).__contains__
        names = [n for n in self.names() if keep(n)]
        kind = self.kind

        def failed(name: str, exc: Exception) -> None:
            reason = f"cannot be read ({exc})"
            if on_error is None:
                raise InputDataError(f"{self.where(name)}: {reason}; re-download the data set.") from exc
            on_error(name, reason)

        try:
            if kind == "dir":
                for name in names:
                    try:
                        data = (self.path / name).read_bytes()
                    except OSError as exc:
                        failed(name, exc)
                        continue
                    yield name, data
            elif kind == "zip":
                with zipfile.ZipFile(self.path) as zf:
                    for name in names:
                        try:
                            data = zf.read(name)
                        except MEMBER_ERRORS as exc:
                            failed(name, exc)
                            continue
                        yield name, data
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
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as exc:
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
    """The first of ``candidates`` (file or folder names) that exists under ``root``, else None.

    A broken link counts as found: reading it then says that it is a broken link, rather than "not found".
    """
    root = Path(root)
    for candidate in candidates:
        path = root / candidate
        if path.is_symlink() and not path.exists():
            return DataSource(path)
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
