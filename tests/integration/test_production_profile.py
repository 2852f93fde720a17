"""The production profile end to end: PostgreSQL, Redis, S3 (moto's server) and an MLflow server."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests import servers
from tests.images import jpeg_bytes
from tests.servers import (
    app_server,
    empty_redis_db,
    mlflow_server,
    moto_s3,
    production_env,
    register_tiny_model,
    s3_client,
)

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/9"
BUCKET = "infantino-test-images"


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def post_image(url: str, data: bytes) -> tuple[int, dict]:
    body, content_type = multipart("image", "baby.jpg", data)
    request = urllib.request.Request(
        url + "/api/predictions/", data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    with servers.postgres_database("infantino_it", migrated=True) as database:
        yield database


@pytest.fixture(scope="module")
def redis_client():  # type: ignore[no-untyped-def]
    with empty_redis_db(REDIS) as client:
        yield client


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint


@pytest.fixture(scope="module")
def production_app(tmp_path_factory, postgres_database, redis_client, s3_endpoint):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("production")
    with mlflow_server(root) as mlflow_uri:
        version = register_tiny_model(mlflow_uri, None)
        env = production_env(
            root / "var", database=postgres_database, redis_url=REDIS, mlflow=mlflow_uri, s3=s3_endpoint, bucket=BUCKET
        )
        with app_server(env, root / "server.log") as url:
            yield {"url": url, "version": version, "database": postgres_database}


def bucket_keys(endpoint: str) -> list[str]:
    return [item["Key"] for item in s3_client(endpoint).list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def prediction_rows(database: str) -> int:
    import psycopg

    with psycopg.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM predictions_prediction").fetchone()[0]


def test_a_prediction_is_stored_in_s3_and_postgres_and_served_by_a_presigned_url(
    production_app, s3_endpoint, redis_client
):
    before_keys, before_rows = len(bucket_keys(s3_endpoint)), prediction_rows(production_app["database"])

    status, body = post_image(production_app["url"], jpeg_bytes(size=128))

    assert status == 201, body
    assert body["model_version"] == production_app["version"]
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-6
    assert len(bucket_keys(s3_endpoint)) == before_keys + 1
    assert prediction_rows(production_app["database"]) == before_rows + 1
    assert body["image_url"].startswith(s3_endpoint)
    assert "X-Amz-Signature" in body["image_url"] and "X-Amz-Expires" in body["image_url"]
    with urllib.request.urlopen(body["image_url"], timeout=10) as response:
        assert response.read(3) == b"\xff\xd8\xff"  # the stored JPEG


def test_the_upload_page_predicts_and_keeps_its_session_in_redis(production_app, redis_client):
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.open(production_app["url"] + "/", timeout=30).read()
    csrf = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    body, content_type = multipart("image", "baby.jpg", jpeg_bytes(size=96, seed=2))
    request = urllib.request.Request(
        production_app["url"] + "/",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "X-CSRFToken": csrf, "Referer": production_app["url"] + "/"},
    )

    with browser.open(request, timeout=60) as response:  # follows the redirect to the result page
        page = response.read().decode()

    assert "/predictions/" in response.url
    assert f'data-testid="model-version">{production_app["version"]}<' in page
    assert "X-Amz-Signature" in page  # the photo is shown through a presigned URL
    session = next(cookie.value for cookie in jar if cookie.name == "sessionid")
    assert any(session.encode() in key for key in redis_client.keys("*"))  # sessions are cached in Redis


def test_the_bucket_is_private(production_app, s3_endpoint):
    status, body = post_image(production_app["url"], jpeg_bytes(size=64, seed=5))
    assert status == 201
    unsigned = body["image_url"].split("?", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403


def test_a_bad_upload_leaves_nothing_in_s3_or_postgres(production_app, s3_endpoint):
    keys, rows = len(bucket_keys(s3_endpoint)), prediction_rows(production_app["database"])

    status, body = post_image(production_app["url"], jpeg_bytes(size=256)[:1000])

    assert status == 400 and body["error"]
    assert len(bucket_keys(s3_endpoint)) == keys
    assert prediction_rows(production_app["database"]) == rows
