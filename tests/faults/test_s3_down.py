"""The image store fails: S3 unreachable answers 503 with nothing written; a failed row write leaves no object."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection
from rest_framework.test import APIClient

from predictions import services
from predictions.models import ImageEmbedding, Prediction
from tests.images import jpeg_bytes
from tests.servers import free_port, moto_s3

pytestmark = pytest.mark.django_db

BUCKET = "infantino-fault-images"
KEYS = {"access_key": "test", "secret_key": "test", "region_name": "us-east-1"}


def s3_storage(settings, endpoint: str) -> None:  # type: ignore[no-untyped-def]
    """The production storage settings (see settings.py), pointed at ``endpoint``."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "infantino_site.storage.S3ImageStorage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                **KEYS,
                "connect_timeout": 1,
                "read_timeout": 2,
                "max_attempts": 2,
            },
        },
    }


def post(data: bytes):  # type: ignore[no-untyped-def]
    return APIClient().post("/api/predictions/", {"image": SimpleUploadedFile("b.jpg", data)}, format="multipart")


def test_an_upload_while_s3_is_unreachable_is_a_503_and_nothing_is_written(settings, live_model):
    s3_storage(settings, f"http://127.0.0.1:{free_port()}")  # nothing listens there

    started = time.monotonic()
    response = post(jpeg_bytes())
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert "image store" in response.json()["error"]
    assert Prediction.objects.count() == 0
    assert ImageEmbedding.objects.count() == 0
    assert elapsed < 10, f"a down S3 held the request {elapsed:.1f} s"


def test_the_upload_page_says_so_with_a_503_while_s3_is_unreachable(settings, live_model, client):
    s3_storage(settings, f"http://127.0.0.1:{free_port()}")

    page = client.post("/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes())})

    assert page.status_code == 503
    assert b"image store" in page.content
    assert Prediction.objects.count() == 0


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
        region_name=KEYS["region_name"],
    )


def bucket_keys(endpoint: str) -> list[str]:
    return sorted(item["Key"] for item in s3_client(endpoint).list_objects_v2(Bucket=BUCKET).get("Contents", []))


@pytest.fixture
def s3_up(settings, s3_endpoint: str) -> str:  # type: ignore[no-untyped-def]
    """The app's storage on moto's S3 server, with an empty bucket."""
    for key in bucket_keys(s3_endpoint):
        s3_client(s3_endpoint).delete_object(Bucket=BUCKET, Key=key)
    s3_storage(settings, s3_endpoint)
    return s3_endpoint


def refuse_embedding_inserts() -> None:
    """A real database refusal (as a full disk or a dropped connection gives) after the object is stored.

    The trigger lives in the test's transaction, which is rolled back afterwards.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER refuse_embeddings BEFORE INSERT ON predictions_imageembedding "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        elif connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_insert() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; "
                "END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_embeddings BEFORE INSERT ON predictions_imageembedding "
                "FOR EACH ROW EXECUTE FUNCTION refuse_insert()"
            )
        else:
            pytest.skip(f"no trigger recipe for {connection.vendor}")


def test_when_the_rows_cannot_be_written_the_stored_object_is_deleted(live_model, s3_up):
    refuse_embedding_inserts()

    with pytest.raises(DatabaseError):
        services.prediction_create(upload=SimpleUploadedFile("b.jpg", jpeg_bytes(seed=2)))

    assert bucket_keys(s3_up) == []
    assert Prediction.objects.count() == 0  # the prediction row went back with the embedding's
    assert ImageEmbedding.objects.count() == 0


def test_a_failed_write_keeps_the_object_an_earlier_upload_of_the_same_photo_uses(live_model, s3_up):
    photo = jpeg_bytes(seed=3)
    earlier = services.prediction_create(upload=SimpleUploadedFile("a.jpg", photo))
    refuse_embedding_inserts()

    with pytest.raises(DatabaseError):
        services.prediction_create(upload=SimpleUploadedFile("b.jpg", photo))

    assert bucket_keys(s3_up) == [earlier.image.name]
    assert "X-Amz-Signature" in earlier.image.url  # the client config keeps presigned (s3v4) URLs
    assert Prediction.objects.get().image.read()[:3] == b"\xff\xd8\xff"
