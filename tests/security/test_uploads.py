"""Hostile and unusual uploads, through the API: only JPEG, PNG and WebP by content, decoded fully and
within limits, stored re-encoded without metadata under a name derived from the content. The in-memory backend
predicts: these tests are about the file, and tests/predictions covers the real model's path."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from predictions.models import ImageEmbedding, Prediction
from tests.images import (
    SECRET_COMMENT,
    animated,
    cmyk_jpeg,
    encode,
    face_like,
    half_transparent,
    jpeg_bytes,
    jpeg_with_private_metadata,
    palette_png_with_transparency,
    png_16bit,
    png_header_only,
    solid,
)

pytestmark = pytest.mark.django_db


def post(data: bytes, name: str = "baby.jpg", content_type: str = "image/jpeg"):  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile(name, data, content_type=content_type)
    return APIClient().post("/api/predictions/", {"image": upload}, format="multipart")


def stored_files(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file()) if media.exists() else []


def stored_image(media: Path) -> Image.Image:
    (path,) = stored_files(media)
    image = Image.open(path)
    image.load()
    return image


def assert_refused(response, media: Path, *, mentions: str = "") -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.content
    assert mentions.lower() in response.json()["error"].lower()
    assert Prediction.objects.count() == 0
    assert ImageEmbedding.objects.count() == 0
    assert stored_files(media) == []


PNG = encode(face_like(48), "PNG")
NOT_ACCEPTED = {
    "a GIF": (animated("GIF"), "GIF"),
    "a BMP": (encode(face_like(48), "BMP"), "BMP"),
    "a TIFF": (encode(face_like(48), "TIFF"), "TIFF"),
    "an SVG": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
    "an HTML page": (b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>", "HTML"),
    "an HTML page with a PNG inside": (b"<html><script>alert(1)</script><!--" + PNG + b"--></html>", "HTML"),
    "a PNG behind a few junk bytes": (b"JUNK" + PNG, "not accepted"),
}


@pytest.mark.parametrize(("data", "named"), NOT_ACCEPTED.values(), ids=NOT_ACCEPTED.keys())
def test_a_file_that_is_not_jpeg_png_or_webp_is_refused_even_when_named_jpg(fake_backend, isolated_media, data, named):
    assert_refused(post(data, name="baby.jpg", content_type="image/jpeg"), isolated_media, mentions=named)


def test_the_content_decides_not_the_file_name_or_content_type(fake_backend, isolated_media):
    response = post(PNG, name="baby.gif", content_type="image/gif")

    assert response.status_code == 201, response.content
    assert len(stored_files(isolated_media)) == 1


TRUNCATED = {
    "jpeg": jpeg_bytes(size=256)[:1500],
    "png": encode(face_like(256), "PNG")[:3000],
    "webp": encode(face_like(256), "WEBP", quality=90)[:1500],
}


@pytest.mark.parametrize("data", TRUNCATED.values(), ids=TRUNCATED.keys())
def test_a_truncated_image_is_refused_because_it_is_decoded_in_full_first(fake_backend, isolated_media, data):
    assert_refused(post(data), isolated_media, mentions="damaged or incomplete")


def test_a_file_over_the_byte_limit_is_refused(settings, fake_backend, isolated_media):
    settings.INFANTINO_MAX_UPLOAD_BYTES = 20_000
    big = encode(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)), "PNG")
    assert len(big) > 20_000

    assert_refused(post(big, name="big.png"), isolated_media, mentions="larger than")


def test_an_image_over_the_pixel_limit_is_refused(settings, fake_backend, isolated_media):
    settings.INFANTINO_MAX_PIXELS = 1000

    assert_refused(post(jpeg_bytes(size=64)), isolated_media, mentions="pixels")


def test_a_tiny_png_declaring_huge_dimensions_is_refused_without_being_decoded(fake_backend, isolated_media):
    bomb = png_header_only(100_000, 100_000)  # 10 gigapixels declared in 69 bytes
    assert len(bomb) < 100

    started = time.monotonic()
    response = post(bomb, name="bomb.png")

    assert time.monotonic() - started < 2
    assert_refused(response, isolated_media, mentions="pixels")


def test_pillows_own_decompression_bomb_error_is_a_400_not_a_500(settings, fake_backend, isolated_media):
    settings.INFANTINO_MAX_PIXELS = 10**12  # our limit out of the way: Pillow's must still answer cleanly
    bomb = png_header_only(20_000, 20_000)  # 400 megapixels: more than twice Image.MAX_IMAGE_PIXELS

    assert_refused(post(bomb, name="bomb.png"), isolated_media, mentions="pixels")


def test_gps_exif_xmp_icc_and_comments_are_not_stored(fake_backend, isolated_media):
    original = jpeg_with_private_metadata()

    assert post(original).status_code == 201

    (path,) = stored_files(isolated_media)
    raw = path.read_bytes()
    for secret in (b"Exif", b"SecretCamera", b"ns.adobe.com/xap", b"SecretPhone", b"ICC_PROFILE", SECRET_COMMENT):
        assert secret not in raw
    with Image.open(path) as stored:
        assert not stored.getexif()
        assert not stored.getexif().get_ifd(0x8825)  # no GPS block
        assert "icc_profile" not in stored.info and "xmp" not in stored.info and "comment" not in stored.info


def test_a_jpeg_carrying_a_script_and_trailing_html_is_stored_without_them(fake_backend, isolated_media):
    polyglot = (
        encode(face_like(48), "JPEG", comment=b"<script>alert(1)</script>") + b"<html><script>x()</script></html>"
    )

    assert post(polyglot).status_code == 201

    (path,) = stored_files(isolated_media)
    assert b"<script" not in path.read_bytes() and b"<html" not in path.read_bytes()


def test_the_stored_name_is_the_sha256_of_the_stored_bytes_and_nothing_the_user_sent(fake_backend, isolated_media):
    response = post(jpeg_bytes(seed=3), name="../../2024-05-01 Emma's first smile.jpg")

    assert response.status_code == 201
    prediction = Prediction.objects.get()
    (path,) = stored_files(isolated_media)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert prediction.image.name == f"uploads/{digest}.jpg"
    assert path == isolated_media / "uploads" / f"{digest}.jpg"


def test_the_same_photo_twice_is_one_stored_object_left_intact(fake_backend, isolated_media):
    photo = jpeg_bytes(seed=4)
    first, second = post(photo, name="a.jpg"), post(photo, name="b.jpg")

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    (path,) = stored_files(isolated_media)
    names = set(Prediction.objects.values_list("image", flat=True))
    assert names == {f"uploads/{path.name}"}
    assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem  # not overwritten with anything else


def mean_color(image: Image.Image, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    return np.asarray(image.crop(box) if box else image, dtype=np.float64).reshape(-1, 3).mean(axis=0)


def test_a_cmyk_jpeg_is_accepted_with_its_colours(fake_backend, isolated_media):
    assert post(cmyk_jpeg()).status_code == 201

    red, green, blue = mean_color(stored_image(isolated_media))
    assert red > 200 and green < 60 and blue < 60


def test_a_16_bit_png_keeps_its_grey_level_instead_of_turning_white(fake_backend, isolated_media):
    assert post(png_16bit(level=25600), name="scan.png").status_code == 201  # 25600 / 65535 ≈ 100 / 255

    assert np.allclose(mean_color(stored_image(isolated_media)), 100, atol=4)


def test_a_palette_png_with_transparency_is_composited_on_white(fake_backend, isolated_media):
    assert post(palette_png_with_transparency(), name="p.png").status_code == 201

    image = stored_image(isolated_media)
    assert np.allclose(mean_color(image, (2, 2, 20, 46)), 255, atol=4)  # the transparent half
    assert mean_color(image, (28, 2, 46, 46))[2] > 200  # the opaque blue half


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_transparent_pixels_become_white_not_black(fake_backend, isolated_media, mode):
    assert post(half_transparent(mode), name="alpha.png").status_code == 201

    image = stored_image(isolated_media)
    assert np.allclose(mean_color(image, (2, 2, 20, 46)), 255, atol=4)
    assert mean_color(image, (28, 2, 46, 46)).max() < 210  # the opaque half keeps its dark colour


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"], ids=["animated webp", "apng"])
def test_an_animation_is_accepted_and_its_first_frame_is_used(fake_backend, isolated_media, fmt):
    data = animated(fmt, colors=((255, 0, 0), (0, 255, 0), (0, 0, 255)))
    with Image.open(io.BytesIO(data)) as probe:
        assert probe.n_frames == 3

    assert post(data, name="anim.webp").status_code == 201

    red, green, blue = mean_color(stored_image(isolated_media))
    assert red > 200 and green < 60 and blue < 60


def test_an_animated_gif_is_refused_like_any_gif(fake_backend, isolated_media):
    assert_refused(post(animated("GIF"), name="anim.gif", content_type="image/gif"), isolated_media, mentions="GIF")


def test_exif_orientation_is_applied_to_a_webp_before_its_metadata_is_dropped(fake_backend, isolated_media):
    picture = solid((255, 255, 255), 48)
    picture.paste((255, 0, 0), (0, 0, 48, 8))  # a red band along the top
    exif = Image.Exif()
    exif[0x0112] = 3  # Orientation: rotated 180°
    assert post(encode(picture, "WEBP", lossless=True, exif=exif.tobytes()), name="r.webp").status_code == 201

    image = stored_image(isolated_media)
    assert not image.getexif()
    assert mean_color(image, (0, 42, 48, 48))[1] < 60  # the red band is now at the bottom
    assert mean_color(image, (0, 0, 48, 6)).min() > 200
