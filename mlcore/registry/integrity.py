"""Checksums of artifact files: recorded in the tracking store at registration, compared before anything is read.

Extractor files are recorded as params of the extractor's run, head files as tags of the model version, so a
file swapped in the artifact store (S3, a shared folder) is refused. Versions registered before checksums
existed load with a warning (they carry no checksum to compare with); a recorded checksum that does not match,
or a file missing that had one, is always refused.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path

from mlcore.registry.errors import ArtifactRefused

logger = logging.getLogger(__name__)

CHECKSUM_PREFIX = "sha256/"
# Written by MLflow into every download of a ``models:/`` URI (never read here), so it has no fixed checksum.
DOWNLOAD_NOTES = {"registered_model_meta"}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_entries(directory: Path, part: str) -> dict[str, str]:
    """``sha256/<part>/<file>`` → hex digest for every file under ``directory``."""
    return {
        f"{CHECKSUM_PREFIX}{part}/{path.relative_to(directory).as_posix()}": file_sha256(path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name not in DOWNLOAD_NOTES
    }


def recorded(entries: Mapping[str, str], part: str) -> dict[str, str]:
    """The checksums recorded for ``part``, by file path relative to it."""
    prefix = f"{CHECKSUM_PREFIX}{part}/"
    return {key.removeprefix(prefix): value for key, value in entries.items() if key.startswith(prefix)}


def verify(directory: Path, checksums: dict[str, str], *, what: str, reads: tuple[str, ...]) -> None:
    """Refuse unless every file recorded, and every file about to be read, is there and matches its checksum."""
    if not checksums:
        logger.warning("%s was registered before checksums were recorded: loaded unverified", what)
        return
    for name in sorted({*checksums, *reads}):
        path = directory / name
        if name not in checksums:
            raise ArtifactRefused(f"{what} is refused: {name} was not part of it when it was registered")
        if not path.is_file():
            raise ArtifactRefused(f"{what} is refused: {name} is missing from the artifact store")
        if file_sha256(path) != checksums[name]:
            raise ArtifactRefused(f"{what} is refused: {name} does not match the checksum recorded at registration")
