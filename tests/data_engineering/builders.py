"""Builders of small data sets in the official layouts, written by the tests into tmp folders.

Face pixels come from generated patterns or, where a detector must find a real face, from the shared
UTKFace archive at test time: nothing of a real data set is stored in the repository.
"""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np


def jpeg_bytes(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return buf.tobytes()


def png_bytes(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def pattern(seed: int, size: int = 48, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (size, size) if channels == 1 else (size, size, channels)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def write_files(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def zip_folder(folder: Path, target: Path, stored: bool = False) -> Path:
    """Zip of a folder's files, and of its folders (as entries of their own) when they hold nothing."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() or (path.is_dir() and not any(path.iterdir())):
                zf.write(path, path.relative_to(folder).as_posix())
    return target


def corrupt_member(archive: Path, member: str) -> None:
    """Flip one byte inside a stored member's data, so that only its CRC check fails."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    data = bytearray(archive.read_bytes())
    name_len, extra_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0xFF
    archive.write_bytes(bytes(data))


def tar_folder(folder: Path, target: Path) -> Path:
    """tar.gz of a folder's files, and of its folders (as members of their own) when they hold nothing."""
    with tarfile.open(target, "w:gz") as tf:
        for path in sorted(folder.rglob("*")):
            if path.is_file() or (path.is_dir() and not any(path.iterdir())):
                tf.add(path, path.relative_to(folder).as_posix(), recursive=False)
    return target


def fer2013_csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["emotion,pixels,Usage", *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


def pixel_string(seed: int, count: int = 48 * 48) -> str:
    return " ".join(str(v) for v in np.random.default_rng(seed).integers(0, 256, count))


def rafdb_tree(root: Path, entries: list[tuple[str, int, int, int]]) -> Path:
    """RAF-DB basic with (name, label 1-7, gender 0-2, age group 0-4) entries; 100x100 aligned images."""
    files = {"EmoLabel/list_patition_label.txt": "".join(f"{n}.jpg {lab}\n" for n, lab, _, _ in entries).encode()}
    for i, (name, _, gender, age) in enumerate(entries):
        files[f"Image/aligned/{name}_aligned.jpg"] = jpeg_bytes(pattern(i, 100, 3))
        landmarks = "".join(f"{30 + j}.5 {40 + j}.25\n" for j in range(5))
        files[f"Annotation/manual/{name}_manu_attri.txt"] = f"{landmarks}{gender}\n1\n{age}\n".encode()
    return write_files(root, files)


def write_avi(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG AVI here"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def face_video_frames(face_bgr: np.ndarray, count: int, canvas: tuple[int, int] = (240, 320)) -> list[np.ndarray]:
    """A real face moving slowly across a grey canvas, like a short clip of one viewer."""
    frames = []
    for i in range(count):
        frame = np.full((*canvas, 3), 90, np.uint8)
        y, x = 20, 40 + 4 * i
        frame[y:y + face_bgr.shape[0], x:x + face_bgr.shape[1]] = face_bgr
        frames.append(frame)
    return frames


def real_face_bgr(shared: Path, index: int = 0, size: int = 160) -> np.ndarray:
    """One real UTKFace face (BGR), read from the shared archive at test time."""
    with tarfile.open(shared / "utkface_crop_part1.tar.gz") as tf:
        seen = 0
        for member in tf:
            if member.isfile() and member.name.endswith(".jpg.chip.jpg"):
                if seen == index:
                    data = tf.extractfile(member).read()
                    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                    return cv2.resize(image, (size, size))
                seen += 1
    raise AssertionError("no UTKFace image in the shared archive")


def member_reasons(skips, source) -> dict[str, str]:
    """Skip reasons keyed by member name: skip rows name the archive or folder too, ``where('')`` is that prefix."""
    prefix = source.where("")
    assert skips["file"].str.startswith(prefix).all(), skips["file"].tolist()
    return {f[len(prefix):]: r for f, r in zip(skips["file"], skips["reason"])}


def movielens_1m_zip(root: Path, ratings: list[str], users: list[str], movies: list[str],
                     name: str = "ml-1m.zip") -> Path:
    """MovieLens 1M in its official layout, zipped as GroupLens ships it: ``ml-1m.zip`` holding
    ``ml-1m/ratings.dat``, ``users.dat`` and ``movies.dat`` (``::``-separated lines, latin-1)."""
    folder = write_files(root / "ml-1m-src", {
        f"ml-1m/{file}": ("\n".join(lines) + "\n").encode("latin-1")
        for file, lines in (("ratings.dat", ratings), ("users.dat", users), ("movies.dat", movies))})
    return zip_folder(folder, root / name)
