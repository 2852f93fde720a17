"""Decoding untrusted image bytes: format whitelist by content, size limits, EXIF orientation, no metadata."""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

logger = logging.getLogger(__name__)

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
ACCEPTED = "upload a JPEG, PNG or WebP photo"
DEFAULT_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
# Only to name what was refused in the message; acceptance is decided by ``sniff_format`` alone.
_KNOWN_OTHERS = (
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
)


class InvalidImage(ValueError):
    """The bytes are not an image we accept; the message is meant for a person."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image
    source_format: str


def sniff_format(data: bytes) -> str | None:
    """The accepted format the bytes start with (JPEG, PNG, WEBP), or None: names and content types are not asked."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedImage:
    """Decode fully, apply EXIF orientation and return an RGB image that carries no metadata."""
    if not data:
        raise InvalidImage("The file is empty.")
    if len(data) > max_bytes:
        raise InvalidImage(f"The file is larger than {_size(max_bytes)}.")
    fmt = sniff_format(data)
    if fmt is None:
        raise InvalidImage(f"{_refused_kind(data)} are not accepted; {ACCEPTED}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the decoder the signature names may read the bytes: a polyglot cannot pick another one.
            probe = Image.open(io.BytesIO(data), formats=[fmt])
            if probe.format != fmt:
                raise InvalidImage(f"The file is not a valid {fmt} image; {ACCEPTED}.")
            width, height = probe.size
            if width * height > max_pixels:
                raise InvalidImage(
                    f"The image is {width}×{height} pixels; the limit is {max_pixels / 1_000_000:g} megapixels."
                )
            probe.load()  # the first frame of an animation: the only one used
    except InvalidImage:
        raise
    except UnidentifiedImageError:
        raise InvalidImage(f"The file is not a {fmt} image we can read; {ACCEPTED}.") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        limit = max_pixels / 1_000_000
        raise InvalidImage(f"The image has too many pixels; the limit is {limit:g} megapixels.") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise InvalidImage("The image is damaged or incomplete and cannot be decoded.") from None
    oriented = _orient(probe)
    # Copying the pixels into a fresh image drops EXIF, GPS, XMP, ICC, comments and any other metadata.
    clean = Image.new("RGB", oriented.size)
    clean.paste(_to_rgb(oriented))
    return DecodedImage(image=clean, source_format=fmt)


def encode_clean(image: Image.Image, *, quality: int = 92) -> bytes:
    """Re-encode as JPEG with no metadata."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def _orient(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block must not cost the photo: it is dropped anyway
        logger.info("ignored an unreadable EXIF orientation")
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode.startswith("I") or image.mode == "F":
        # 16-bit greyscale: Pillow's conversion clips at 255 (a white picture); scale it down instead.
        pixels = np.clip(np.asarray(image, dtype=np.float64), 0, 65535) / 257.0
        return Image.fromarray(np.round(pixels).astype(np.uint8), mode="L").convert("RGB")
    if "A" in image.getbands() or "a" in image.getbands() or "transparency" in image.info:
        # Transparent parts become white, as a browser shows them on a page, not black.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _refused_kind(data: bytes) -> str:
    for signature, name in _KNOWN_OTHERS:
        if data.startswith(signature):
            return f"{name} files"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")) and b"<svg" in head:
        return "SVG files"
    if head.startswith((b"<!doctype html", b"<html")) or b"<script" in head:
        return "HTML files"
    return "Files of this kind"


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{limit / 1024:g} KB"


def open_image_file(path: str) -> Image.Image:
    """Open a trusted dataset file (any format Pillow reads, BMP and GIF included) as RGB, oriented."""
    with Image.open(path) as image:
        image.load()
        oriented = _orient(image)
        clean = Image.new("RGB", oriented.size)
        clean.paste(_to_rgb(oriented))
        return clean
