from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from predictions.models import Prediction
from tests.annotations.test_import import zip_upload
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fake_backend")]


def result_links(page: str) -> list[str]:
    listed = page.split('data-testid="batch-results"')[1].split("</section>")[0]
    return re.findall(r'href="/predictions/([0-9a-f-]{36})/"', listed)


def test_a_parent_uploads_several_photos_and_a_zip_and_gets_a_link_to_each_result(client):
    files = [
        SimpleUploadedFile("first.jpg", jpeg_bytes(seed=1)),
        SimpleUploadedFile("second.jpg", jpeg_bytes(seed=2)),
        zip_upload({"holiday/third.jpg": jpeg_bytes(seed=3), "holiday/readme.txt": b"hello"}),
    ]

    response = client.post("/", {"image": files, "consent": "yes"})

    assert response.status_code == 200
    page = response.content.decode()
    stored = Prediction.objects.all()
    assert sorted(result_links(page)) == sorted(str(p.pk) for p in stored)
    assert stored.count() == 3 and all(p.consent for p in stored)
    assert "holiday/readme.txt</span>:" in page and "not predicted." in page
    for pk in result_links(page):  # each link opens, for the parent who uploaded it
        assert client.get(f"/predictions/{pk}/").status_code == 200


def test_a_photo_sent_again_links_to_its_earlier_result_instead_of_a_new_one(client):
    client.post("/", {"image": SimpleUploadedFile("a.jpg", jpeg_bytes(seed=5))})
    first = Prediction.objects.get()

    response = client.post(
        "/", {"image": [SimpleUploadedFile("a.jpg", jpeg_bytes(seed=5)), SimpleUploadedFile("b.jpg", jpeg_bytes())]}
    )

    assert Prediction.objects.count() == 2
    assert "uploaded before" in response.content.decode()
    assert str(first.pk) in result_links(response.content.decode())


def test_one_photo_still_goes_straight_to_its_result_page(client):
    response = client.post("/", {"image": SimpleUploadedFile("a.jpg", jpeg_bytes())})

    assert response.status_code == 302
    assert response["Location"] == f"/predictions/{Prediction.objects.get().pk}/"


def test_photos_past_the_limit_of_one_request_are_listed_as_refused_not_dropped(client, monkeypatch):
    monkeypatch.setattr("predictions.batch.PARENT_PHOTOS", 2)
    photos = zip_upload({f"{i}.jpg": jpeg_bytes(seed=i) for i in range(3)})

    page = client.post("/", {"image": [photos]}).content.decode()

    assert Prediction.objects.count() == 2
    assert len(result_links(page)) == 2
    assert "2.jpg</span>:" in page and "Only 2 photos at a time" in page
