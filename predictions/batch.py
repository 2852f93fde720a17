"""Several photos at once: read them from uploaded files, a .zip or a folder, and predict each one once.

A .zip is expanded in memory, never onto disk, and refused whole when it looks like a zip bomb (too many
entries, too many bytes once expanded, or a compression ratio no photo has).
"""

from __future__ import annotations

import hashlib
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db.models import QuerySet
from PIL import Image

from predictions import ml
from predictions.models import Prediction, content_name
from predictions.selectors import predictions_owned
from predictions.services import prediction_create

MAX_ENTRIES = 5000  # files in one .zip
MAX_EXPANDED_BYTES = 1024 * 1024 * 1024  # a .zip's files together, once expanded
BULK_PHOTOS = 32  # photos read ahead and predicted together (``Batch.add_all``)
PARENT_PHOTOS = 20  # photos one upload-page request predicts (the uploads throttle counts requests, not photos)
MAX_RATIO = 100  # expanded / compressed size of one entry: photos barely compress, a bomb compresses a thousandfold
NAME_CHARS = 200  # of a file's name, as reported back
ZIP_SIGNATURE = b"PK\x03\x04"
IGNORED_FOLDERS = frozenset({"__MACOSX"})  # macOS resource forks: never photos
ENCRYPTED = 0x1  # the general-purpose flag bit of an entry with a password
UNSAFE = "Unsafe file name in the .zip (an absolute path or '..'): not read."


class ArchiveRefused(ValueError):
    """A .zip that is not read at all; the message says why, for a person."""


@dataclass(frozen=True)
class Entry:
    """One file of a batch: its path inside the batch, its bytes, or why the batch refused it unread."""

    name: str
    data: bytes = b""
    refused: str = ""

    @property
    def folder(self) -> str:
        """The name of the folder the file is in ("" at the top): a label, when labels come from folders."""
        return PurePosixPath(self.name).parent.name


@dataclass(frozen=True)
class Outcome:
    """What became of one file: stored as ``prediction``, found already stored (``duplicate``), or refused."""

    name: str
    prediction: Prediction | None = None
    duplicate: bool = False
    refused: str = ""
    same_as: str = ""  # a duplicate of a file earlier in this batch: that file's name


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else "…" + name[-(NAME_CHARS - 1) :]


def _too_large() -> str:
    return f"The file is larger than {settings.INFANTINO_MAX_UPLOAD_BYTES // (1024 * 1024)} MB."


def _ignored(parts: Iterable[str]) -> bool:
    """Hidden files and folders (``.DS_Store``, ``._photo.jpg``) and macOS resource forks are not photos."""
    return any(part.startswith(".") or part in IGNORED_FOLDERS for part in parts)


def _unsafe(name: str) -> bool:
    """A name that would climb out of, or start outside, the folder it is expanded into."""
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or name[1:2] == ":" or not name.strip("/")


def zip_entries(stream: IO[bytes], *, archive: str = "") -> Iterator[Entry]:
    """The photos in a .zip, in its order; raises ``ArchiveRefused`` for a broken archive or a zip bomb."""
    try:
        with zipfile.ZipFile(stream) as archive_file:
            members = [info for info in archive_file.infolist() if not info.is_dir()]
            _check_bomb(members)
            for info in members:
                if _unsafe(info.filename):
                    yield Entry(name=_short(info.filename), refused=UNSAFE)
                elif not _ignored(PurePosixPath(info.filename).parts):
                    yield _zip_entry(archive_file, info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, zlib.error) as exc:
        raise ArchiveRefused(f"{_short(archive) or 'The archive'} is not a .zip that can be read ({exc}).") from None


def _check_bomb(members: list[zipfile.ZipInfo]) -> None:
    if len(members) > MAX_ENTRIES:
        raise ArchiveRefused(f"The .zip holds {len(members)} files; the limit is {MAX_ENTRIES}.")
    expanded = sum(info.file_size for info in members)
    if expanded > MAX_EXPANDED_BYTES:
        raise ArchiveRefused(f"The .zip expands to more than {MAX_EXPANDED_BYTES // (1024 * 1024)} MB.")
    for info in members:
        if info.file_size > MAX_RATIO * max(info.compress_size, 1024):
            raise ArchiveRefused(f"The .zip was refused: {_short(info.filename)} expands like a zip bomb.")


def _zip_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Entry:
    name = info.filename
    if stat.S_ISLNK(info.external_attr >> 16):
        return Entry(name=_short(name), refused="A link, not a file.")
    if info.flag_bits & ENCRYPTED:
        return Entry(name=_short(name), refused="The file is encrypted in the .zip.")
    limit = settings.INFANTINO_MAX_UPLOAD_BYTES
    if info.file_size > limit:
        return Entry(name=_short(name), refused=_too_large())
    with archive.open(info) as member:
        # The declared size bounds the read: an entry that lies about it cannot expand past the limit.
        data = member.read(min(info.file_size, limit) + 1)
    if len(data) > info.file_size:
        raise ArchiveRefused(f"The .zip was refused: {_short(name)} is larger than the archive says.")
    return Entry(name=_short(name), data=data)


def folder_files(root: Path) -> list[Path]:
    """Every file under ``root``, sub-folders included, sorted; hidden ones and macOS forks left out."""
    return [path for path in sorted(root.rglob("*")) if not _ignored(path.relative_to(root).parts) and path.is_file()]


def folder_entries(root: Path) -> Iterator[Entry]:
    """The files of ``folder_files``, each read as its turn comes (a large folder is never all in memory)."""
    limit = settings.INFANTINO_MAX_UPLOAD_BYTES
    for path in folder_files(root):
        name = _short(path.relative_to(root).as_posix())
        if path.stat().st_size > limit:
            yield Entry(name=name, refused=_too_large())
        else:
            yield Entry(name=name, data=path.read_bytes())


def upload_entries(uploads: Iterable[UploadedFile]) -> Iterator[Entry]:
    """Uploaded files, each a photo or a .zip of photos (known by its first bytes, not its name)."""
    limit = settings.INFANTINO_MAX_UPLOAD_BYTES
    for upload in uploads:
        name = _short(upload.name or "upload")
        if is_zip(upload):
            try:
                yield from zip_entries(upload.file, archive=name)
            except ArchiveRefused as exc:
                yield Entry(name=name, refused=str(exc))
            continue
        if upload.size is not None and upload.size > limit:
            yield Entry(name=name, refused=_too_large())
            continue
        yield Entry(name=name, data=upload.read(limit + 1))


def is_zip(upload: UploadedFile) -> bool:
    upload.seek(0)
    head = upload.read(len(ZIP_SIGNATURE))
    upload.seek(0)
    return head == ZIP_SIGNATURE


def _decode(data: bytes) -> ml.DecodedImage:
    limit, pixels = settings.INFANTINO_MAX_UPLOAD_BYTES, settings.INFANTINO_MAX_PIXELS
    return ml.decode_image(data, max_bytes=limit, max_pixels=pixels)


def stored_name(image: Image.Image) -> str:
    """Where a photo is (or would be) stored: its cleaned bytes name it, so equal photos share it."""
    return Prediction._meta.get_field("image").generate_filename(None, content_name(ml.encode_clean(image)))


@dataclass
class Batch:
    """One batch's uploads: each photo predicted once, one already in ``stored`` (or earlier in the batch) skipped."""

    stored: QuerySet[Prediction]
    user: AbstractBaseUser | AnonymousUser | None = None
    session_key: str = ""
    consent: bool = False

    def __post_init__(self) -> None:
        self._seen: dict[str, Outcome] = {}  # raw bytes' SHA-256 → what became of them first in this batch

    def add(self, entry: Entry) -> Outcome:
        """Predict and store one file unless it is refused or a duplicate; ``ServiceUnavailable`` stops the batch."""
        [(_, outcome)] = self.add_all([entry])
        return outcome

    def add_all(self, entries: Iterable[Entry], *, refuse: Callable[[Entry], str] | None = None) -> Iterator[Pair]:
        """``add`` for every entry, in order, each with its outcome: the next files are read, decoded and named on a
        second thread while the photos before them are predicted together (``predict_many``) and stored. ``refuse``
        may refuse an entry with a reason before it is read."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="infantino-decode") as reader:
            chunks = iter(_chunks(entries, BULK_PHOTOS))
            ahead = reader.submit(_read_chunk, next(chunks, []), refuse)
            while chunk := ahead.result():
                ahead = reader.submit(_read_chunk, next(chunks, []), refuse)
                yield from self._store_chunk(chunk)

    def _store_chunk(self, chunk: list[_Read]) -> Iterator[Pair]:
        """Predict the chunk's new photos together, then store or skip each file in order."""
        readable = [read for read in chunk if read.decoded is not None and read.raw not in self._seen]
        # One query for the chunk: a folder imported again predicts none of the photos it stored the first time.
        stored = set(self.stored.filter(image__in=[read.name for read in readable]).values_list("image", flat=True))
        new = [read for read in readable if read.name not in stored]
        outcomes = iter(ml.backend().predict_many([read.decoded.image for read in new]))  # type: ignore[union-attr]
        predicted = {id(read): next(outcomes) for read in new}
        for read in chunk:
            yield read.entry, self._store(read, predicted.get(id(read)))

    def _store(self, read: _Read, outcome: ml.Outcome | None) -> Outcome:
        entry = read.entry
        if read.refused:
            return Outcome(name=entry.name, refused=read.refused)
        if read.raw in self._seen:
            first = self._seen[read.raw]
            return Outcome(name=entry.name, prediction=first.prediction, duplicate=True, same_as=first.name)
        earlier = self.stored.filter(image=read.name).order_by("created").first()
        if earlier is not None:
            self._seen[read.raw] = Outcome(name=entry.name, prediction=earlier, duplicate=True)
            return self._seen[read.raw]
        assert read.decoded is not None and outcome is not None
        upload = SimpleUploadedFile(PurePosixPath(entry.name).name or "upload", entry.data)
        prediction = prediction_create(
            upload=upload,
            user=self.user,
            session_key=self.session_key,
            consent=self.consent,
            predicted=(read.decoded, outcome),
        )
        self._seen[read.raw] = Outcome(name=entry.name, prediction=prediction)
        return self._seen[read.raw]


Pair = tuple[Entry, Outcome]


@dataclass(frozen=True)
class _Read:
    """A file as read on the reader thread: its raw hash, decoded photo and stored name, or why it is refused."""

    entry: Entry
    raw: str = ""
    decoded: ml.DecodedImage | None = None
    name: str = ""
    refused: str = ""


def _read_chunk(entries: list[Entry], refuse: Callable[[Entry], str] | None) -> list[_Read]:
    return [_read(entry, refuse) for entry in entries]


def _read(entry: Entry, refuse: Callable[[Entry], str] | None) -> _Read:
    """Decode once: the same photo is predicted and stored, and its cleaned bytes name it (``stored_name``)."""
    refused = entry.refused or (refuse(entry) if refuse is not None else "")
    if refused:
        return _Read(entry=entry, refused=refused)
    try:
        decoded = _decode(entry.data)
    except ml.InvalidImage as exc:
        return _Read(entry=entry, refused=str(exc))
    raw = hashlib.sha256(entry.data).hexdigest()
    return _Read(entry=entry, raw=raw, decoded=decoded, name=stored_name(decoded.image))


def _chunks(entries: Iterable[Entry], size: int) -> Iterator[list[Entry]]:
    iterator = iter(entries)
    while chunk := list(islice(iterator, size)):
        yield chunk


def predictions_create_many(
    *, entries: Iterable[Entry], user: AbstractBaseUser | AnonymousUser, session_key: str, consent: bool
) -> list[Outcome]:
    """A parent's several photos: each predicted; one they uploaded before links to its earlier result.

    At most ``PARENT_PHOTOS`` are predicted per request, as uploads are throttled per request: the rest are
    refused with a reason, never silently dropped.
    """
    batch = Batch(
        stored=predictions_owned(user=user, session_key=session_key),
        user=user,
        session_key=session_key,
        consent=consent,
    )
    outcomes: list[Outcome] = []
    kept = 0
    for entry in entries:
        if not entry.refused and kept >= PARENT_PHOTOS:
            outcomes.append(Outcome(name=entry.name, refused=f"Only {PARENT_PHOTOS} photos at a time: send it again."))
            continue
        outcomes.append(batch.add(entry))
        kept += not outcomes[-1].refused
    return outcomes
