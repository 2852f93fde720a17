"""Tiny generated images for tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def face_like(size: int = 96, seed: int = 0) -> Image.Image:
    """A pale oval with two eyes and a mouth on a noisy background: enough to exercise the pipeline."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    image = Image.fromarray(background)
    draw = ImageDraw.Draw(image)
    m = size // 6
    draw.ellipse((m, m, size - m, size - m), fill=(235, 200, 180))
    eye = size // 12
    draw.ellipse((size * 0.35 - eye, size * 0.4 - eye, size * 0.35 + eye, size * 0.4 + eye), fill=(30, 30, 30))
    draw.ellipse((size * 0.65 - eye, size * 0.4 - eye, size * 0.65 + eye, size * 0.4 + eye), fill=(30, 30, 30))
    draw.arc((size * 0.3, size * 0.5, size * 0.7, size * 0.75), 0, 180, fill=(120, 20, 20), width=max(1, size // 30))
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def jpeg_bytes(size: int = 96, seed: int = 0) -> bytes:
    return encode(face_like(size, seed), "JPEG", quality=90)


def solid(color: tuple[int, ...], size: int = 48, mode: str = "RGB") -> Image.Image:
    return Image.new(mode, (size, size), color)


def cmyk_jpeg(size: int = 48) -> bytes:
    """Pure red in CMYK (no cyan, full magenta and yellow), as print workflows save it."""
    return encode(solid((0, 255, 255, 0), size, "CMYK"), "JPEG", quality=95)


def png_16bit(level: int = 25600, size: int = 48) -> bytes:
    """A 16-bit greyscale PNG (Pillow mode I;16) at ``level`` out of 65535."""
    return encode(Image.fromarray(np.full((size, size), level, dtype=np.uint16)), "PNG")


def palette_png_with_transparency(size: int = 48) -> bytes:
    """A palette PNG whose left half is the transparent palette entry and right half opaque blue."""
    image = Image.new("P", (size, size), 0)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    ImageDraw.Draw(image).rectangle((size // 2, 0, size, size), fill=1)
    return encode(image, "PNG", transparency=0)


def half_transparent(mode: str = "RGBA", size: int = 48) -> bytes:
    """A PNG whose left half is fully transparent black and right half opaque (dark) colour."""
    opaque = {"RGBA": (0, 0, 200, 255), "LA": (40, 255)}[mode]
    clear = {"RGBA": (0, 0, 0, 0), "LA": (0, 0)}[mode]
    image = Image.new(mode, (size, size), clear)
    ImageDraw.Draw(image).rectangle((size // 2, 0, size, size), fill=opaque)
    return encode(image, "PNG")


def animated(fmt: str, colors: tuple[tuple[int, int, int], ...] = ((255, 0, 0), (0, 255, 0)), size: int = 48) -> bytes:
    """An animation (``WEBP``, ``PNG`` = APNG, or ``GIF``) with one solid frame per colour."""
    frames = [solid(color, size) for color in colors]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)


SECRET_COMMENT = b"taken at 12 Privet Drive"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:xap="http://ns.adobe.com/xap/1.0/" xap:CreatorTool="SecretPhone"/></rdf:RDF></x:xmpmeta>'
)


def jpeg_with_private_metadata(size: int = 64) -> bytes:
    """A JPEG carrying GPS coordinates, a camera make, an XMP packet, an ICC profile and a comment."""
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (51.0, 30.0, 12.5)  # GPSLatitudeRef, GPSLatitude
    gps[3], gps[4] = "W", (0.0, 7.0, 39.0)  # GPSLongitudeRef, GPSLongitude
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(
        face_like(size), "JPEG", quality=90, exif=exif.tobytes(), icc_profile=icc, xmp=XMP, comment=SECRET_COMMENT
    )


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR declaring ``width``×``height``, then one tiny IDAT: a decompression bomb's shape."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
