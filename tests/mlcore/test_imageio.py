"""Untrusted bytes: which formats get decoded is decided by their first bytes, before Pillow sees them."""

from __future__ import annotations

import pytest

from mlcore.imageio import InvalidImage, decode_image, open_image_file, sniff_format
from tests.images import animated, encode, face_like, jpeg_bytes


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (jpeg_bytes(), "JPEG"),
        (encode(face_like(32), "PNG"), "PNG"),
        (encode(face_like(32), "WEBP"), "WEBP"),
        (encode(face_like(32), "BMP"), None),
        (encode(face_like(32), "TIFF"), None),
        (animated("GIF"), None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),  # a RIFF file that is not WebP
        (b"", None),
    ],
    ids=["jpeg", "png", "webp", "bmp", "tiff", "gif", "wav", "empty"],
)
def test_the_format_is_read_from_the_signature(data, expected):
    assert sniff_format(data) == expected


def test_a_format_pillow_reads_is_still_refused_when_it_is_not_on_the_list():
    with pytest.raises(InvalidImage, match="BMP files are not accepted"):
        decode_image(encode(face_like(32), "BMP"))


def test_the_byte_limit_is_checked_before_anything_is_decoded():
    with pytest.raises(InvalidImage, match="larger than 1 KB"):
        decode_image(jpeg_bytes(size=128), max_bytes=1024)


def test_a_trusted_dataset_file_may_be_any_format_pillow_reads(tmp_path):
    path = tmp_path / "face.bmp"
    path.write_bytes(encode(face_like(32), "BMP"))

    image = open_image_file(str(path))

    assert image.mode == "RGB" and image.size == (32, 32)
