"""The clip API: upload refused or queued, the timeline, someone else's clip, consent, "Label this moment", deletion."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotations.models import Annotation
from predictions.ml import LABELS
from predictions.models import Prediction
from predictions.selectors import predictions_usable_for_learning
from tests.videos.clips import blank_clip, faces_clip
from videos.models import Moment, Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def inline_jobs(settings, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """``analysed(client, data, **fields)``: an upload whose analysis job has run by the time it answers."""
    settings.INFANTINO_JOB_RUNNER = "inline"

    def analysed(client: APIClient, data: bytes, **fields: object) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = upload(client, data, **fields)
        assert response.status_code == 202, response.content
        return response.json()["id"]

    return analysed


def upload(client: APIClient, data: bytes, name: str = "clip.mp4", **fields: object):  # type: ignore[no-untyped-def]
    sent = {"video": SimpleUploadedFile(name, data, content_type="video/mp4"), **fields}
    return client.post("/api/videos/", sent, format="multipart")


def test_a_clip_is_accepted_at_once_and_queued_for_analysis(fake_backend, tmp_path: Path):
    client = APIClient()

    response = upload(client, faces_clip(tmp_path / "a.mp4"))

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    assert client.get(f"/api/videos/{response.json()['id']}/").json()["status"] == "queued"


def test_an_analysed_clip_has_a_frame_per_quarter_second_and_segments_of_the_live_model(
    fake_backend, inline_jobs, tmp_path: Path
):
    client = APIClient()
    video_id = inline_jobs(client, faces_clip(tmp_path / "a.mp4", seconds=2.0), fps=4)

    result = client.get(f"/api/videos/{video_id}/").json()

    assert result["status"] == "done" and result["fps"] == 4 and result["duration_s"] == pytest.approx(2.0, abs=0.11)
    quarters = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
    assert [frame["t"] for frame in result["frames"]] == pytest.approx(quarters, abs=0.06)
    assert all(frame["face"] and set(frame["probabilities"]) == set(LABELS) for frame in result["frames"])
    assert result["model_version"] == fake_backend.live
    assert result["segments"] and all(s["end"] - s["start"] >= 0.5 for s in result["segments"])


def test_the_timeline_csv_has_one_row_per_analysed_frame(fake_backend, inline_jobs, tmp_path: Path):
    client = APIClient()
    video_id = inline_jobs(client, faces_clip(tmp_path / "a.mp4", seconds=1.0), fps=4)

    response = client.get(f"/api/videos/{video_id}/timeline.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))

    assert response["Content-Type"].startswith("text/csv")
    assert len(rows) == len(client.get(f"/api/videos/{video_id}/").json()["frames"]) == 4
    assert {row["face"] for row in rows} == {"yes"} and all(row["label"] in LABELS for row in rows)


def test_a_clip_with_no_face_anywhere_is_a_timeline_of_gaps_not_an_error(fake_backend, inline_jobs, tmp_path: Path):
    client = APIClient()
    video_id = inline_jobs(client, blank_clip(tmp_path / "grey.mp4"))

    result = client.get(f"/api/videos/{video_id}/").json()

    assert result["status"] == "done" and result["error"] is None
    assert result["frames"] and all(frame["face"] is None and frame["label"] is None for frame in result["frames"])
    assert result["segments"] == []


def test_a_file_that_is_no_video_is_refused_and_nothing_is_stored(fake_backend, isolated_media: Path):
    response = upload(APIClient(), b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 200)

    assert response.status_code == 400
    assert "not a video" in response.json()["error"]
    assert Video.objects.count() == 0 and not any(isolated_media.rglob("*.*"))


def test_a_photo_sent_as_a_clip_is_refused(fake_backend):
    from tests.images import jpeg_bytes

    response = upload(APIClient(), jpeg_bytes(), name="photo.mp4")

    assert response.status_code == 400 and Video.objects.count() == 0


def test_a_clip_over_the_size_limit_is_refused(fake_backend, settings, tmp_path: Path):
    data = faces_clip(tmp_path / "a.mp4")
    settings.INFANTINO_VIDEO_MAX_BYTES = len(data) - 1

    response = upload(APIClient(), data)

    assert response.status_code == 400 and "larger than" in response.json()["error"]
    assert Video.objects.count() == 0


def test_a_clip_over_the_length_limit_is_refused(fake_backend, settings, tmp_path: Path):
    settings.INFANTINO_VIDEO_MAX_SECONDS = 1.5

    response = upload(APIClient(), faces_clip(tmp_path / "a.mp4", seconds=2.0))

    assert response.status_code == 400 and "longer than 1.5 seconds" in response.json()["error"]
    assert Video.objects.count() == 0


def test_a_container_without_a_single_frame_is_refused(fake_backend, tmp_path: Path):
    import cv2

    empty = tmp_path / "empty.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48)).release()  # a header, no frame

    response = upload(APIClient(), empty.read_bytes(), name="empty.avi")

    assert response.status_code == 400 and "no frames" in response.json()["error"]
    assert Video.objects.count() == 0


def test_a_rate_above_ten_frames_a_second_is_refused(fake_backend, tmp_path: Path):
    response = upload(APIClient(), faces_clip(tmp_path / "a.mp4"), fps=11)

    assert response.status_code == 400 and "fps" in response.json()["error"]


def test_someone_elses_clip_is_not_found_as_if_it_did_not_exist(fake_backend, inline_jobs, tmp_path: Path):
    owner, stranger = APIClient(), APIClient()
    video_id = inline_jobs(owner, faces_clip(tmp_path / "a.mp4"))

    for response in (
        stranger.get(f"/api/videos/{video_id}/"),
        stranger.get(f"/api/videos/{video_id}/timeline.csv"),
        stranger.patch(f"/api/videos/{video_id}/", {"consent": True}, format="json"),
        stranger.post(f"/api/videos/{video_id}/moments/", {"t": 0.5}, format="json"),
        stranger.delete(f"/api/videos/{video_id}/"),
        stranger.get(f"/videos/{video_id}/"),
        stranger.get(f"/videos/{video_id}/file"),
    ):
        assert response.status_code == 404
    assert owner.get(f"/api/videos/{video_id}/").status_code == 200


def test_the_served_clip_carries_no_location_from_the_upload(fake_backend, tmp_path: Path):
    import av

    from tests.images import face_like

    tagged = tmp_path / "tagged.mov"
    with av.open(str(tagged), mode="w", format="mov") as out:
        out.metadata["location"] = "+48.8584+002.2945/"
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for seed in range(10):
            for packet in stream.encode(av.VideoFrame.from_image(face_like(64, seed))):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert b"48.8584" in tagged.read_bytes()
    client = APIClient()
    video_id = upload(client, tagged.read_bytes(), name="tagged.mov").json()["id"]

    served = b"".join(client.get(f"/videos/{video_id}/file").streaming_content)

    assert served[4:8] == b"ftyp" and b"48.8584" not in served


def test_the_clip_is_served_in_byte_ranges_so_the_player_can_seek(fake_backend, tmp_path: Path):
    client = APIClient()
    video_id = upload(client, faces_clip(tmp_path / "a.mp4")).json()["id"]
    whole = b"".join(client.get(f"/videos/{video_id}/file").streaming_content)

    part = client.get(f"/videos/{video_id}/file", HTTP_RANGE="bytes=100-199")

    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert b"".join(part.streaming_content) == whole[100:200]


def test_label_this_moment_needs_the_clips_consent(fake_backend, inline_jobs, tmp_path: Path):
    client = APIClient()
    video_id = inline_jobs(client, faces_clip(tmp_path / "a.mp4"))

    refused = client.post(f"/api/videos/{video_id}/moments/", {"t": 0.6}, format="json")
    assert refused.status_code == 403 and "not shared" in refused.json()["error"]
    assert Prediction.objects.count() == 0

    client.patch(f"/api/videos/{video_id}/", {"consent": True}, format="json")
    sent = client.post(f"/api/videos/{video_id}/moments/", {"t": 0.6}, format="json")

    assert sent.status_code == 201 and sent.json()["t"] == pytest.approx(0.5, abs=0.06)
    photo = Prediction.objects.get(pk=sent.json()["prediction_id"])
    assert photo in predictions_usable_for_learning()  # in the labeling queue


def test_withdrawing_a_clips_consent_takes_its_moments_out_of_the_queue(fake_backend, inline_jobs, tmp_path: Path):
    client = APIClient()
    video_id = inline_jobs(client, faces_clip(tmp_path / "a.mp4"), consent=True)
    photo_id = client.post(f"/api/videos/{video_id}/moments/", {"t": 1.0}, format="json").json()["prediction_id"]

    client.patch(f"/api/videos/{video_id}/", {"consent": False}, format="json")

    assert not predictions_usable_for_learning().filter(pk=photo_id).exists()


def test_a_moment_without_a_face_is_refused(fake_backend, inline_jobs, tmp_path: Path):
    client = APIClient()
    video_id = inline_jobs(client, blank_clip(tmp_path / "grey.mp4"), consent=True)

    response = client.post(f"/api/videos/{video_id}/moments/", {"t": 1.0}, format="json")

    assert response.status_code == 400 and "No face" in response.json()["error"]


def test_deleting_a_clip_removes_its_file_timeline_and_the_photos_sent_from_it_and_unlearns_them(
    fake_backend,
    inline_jobs,
    tmp_path: Path,
    isolated_media: Path,
    django_user_model,
    django_capture_on_commit_callbacks,
):
    client = APIClient()
    video_id = inline_jobs(client, faces_clip(tmp_path / "a.mp4"), consent=True)
    photo_id = client.post(f"/api/videos/{video_id}/moments/", {"t": 1.0}, format="json").json()["prediction_id"]
    Annotation.objects.create(
        image_id=photo_id, label="happy", annotator=django_user_model.objects.create_user("nurse"), status="learned"
    )
    live_before = fake_backend.live
    assert any(isolated_media.rglob("videos/*")) and any(isolated_media.rglob("uploads/*"))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"/api/videos/{video_id}/")

    assert response.status_code == 204
    assert Video.objects.count() == 0 and Moment.objects.count() == 0
    assert not Prediction.objects.filter(pk=photo_id).exists() and Annotation.objects.count() == 0
    assert not any(path.is_file() for path in isolated_media.rglob("*"))
    assert client.get(f"/api/videos/{video_id}/").status_code == 404
    # The photo had been learned: as for any learned photo deleted, the live model is refitted without it.
    assert fake_backend.live != live_before
    assert fake_backend.version_info(fake_backend.live).tags["kind"] == "unlearn"


def test_clips_from_the_private_bucket_may_play_under_the_pages_policy(settings, rf):
    from infantino_site import csp

    settings.SERVE_MEDIA = False
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "infantino_site.storage.S3ImageStorage",
            "OPTIONS": {
                "bucket_name": "photos",
                "endpoint_url": "https://s3.example.org:9000",
                "access_key": "key",
                "secret_key": "secret",
                "region_name": "eu-west-1",
                "connect_timeout": 1,
                "read_timeout": 2,
                "max_attempts": 1,
            },
        },
    }
    csp.image_origin.cache_clear()
    try:
        policy = csp.policy_for(rf.get("/videos/x/"))
    finally:
        csp.image_origin.cache_clear()

    assert "media-src 'self' https://s3.example.org:9000" in policy
