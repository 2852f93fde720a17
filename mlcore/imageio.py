"""Decoding untrusted image bytes: format whitelist, size limits, EXIF orientation, no metadata."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "GIF"})
DEFAULT_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000


class InvalidImage(ValueError):
    """The bytes are not an image we accept; the message is meant for a person."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image
    source_format: str


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
        raise InvalidImage(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            fmt = probe.format or ""
            if fmt not in ALLOWED_FORMATS:
                raise InvalidImage(f"{fmt or 'This'} files are not accepted; upload a JPEG, PNG, WebP, BMP or GIF.")
            width, height = probe.size
            if width * height > max_pixels:
                raise InvalidImage(
                    f"The image is {width}×{height} pixels; the limit is {max_pixels // 1_000_000} megapixels."
                )
            probe.load()
    except InvalidImage:
        raise
    except UnidentifiedImageError:
        raise InvalidImage("The file is not an image we can read.") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        limit = max_pixels // 1_000_000
        raise InvalidImage(f"The image has too many pixels; the limit is {limit} megapixels.") from None
    except (OSError, SyntaxError, ValueError):
        raise InvalidImage("The image is damaged or incomplete and cannot be decoded.") from None
    oriented = ImageOps.exif_transpose(probe)
    # Copying the pixels into a fresh image drops EXIF, ICC and any other metadata.
    clean = Image.new("RGB", oriented.size)
    clean.paste(_to_rgb(oriented))
    return DecodedImage(image=clean, source_format=fmt)


def encode_clean(image: Image.Image, *, quality: int = 92) -> bytes:
    """Re-encode as JPEG with no metadata."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def open_image_file(path: str) -> Image.Image:
    """Open a trusted dataset file as RGB with orientation applied."""
    with open(path, "rb") as handle:
        return decode_image(handle.read(), max_bytes=1 << 62, max_pixels=1 << 62).image
