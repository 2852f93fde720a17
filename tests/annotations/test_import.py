from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotations.imports import images_import
from annotations.models import Annotation
from predictions.batch import folder_entries, upload_entries
from predictions.models import Prediction
from tests.annotations.conftest import client_for
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs", "fake_backend")]


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_upload(files: dict[str, bytes], name: str = "photos.zip") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, zipped(files), content_type="application/zip")


def test_a_zip_with_a_path_climbing_out_is_refused_by_name_and_the_rest_imported(alice):
    upload = zip_upload(
        {"../../etc/evil.jpg": jpeg_bytes(seed=1), "/abs.jpg": jpeg_bytes(seed=2), "ok.jpg": jpeg_bytes()}
    )

    result = images_import(entries=upload_entries([upload]), annotator=alice)

    assert [item.name for item in result.imported] == ["ok.jpg"]
    assert {name for name, _ in result.refused} == {"../../etc/evil.jpg", "/abs.jpg"}
    assert all("Unsafe file name" in reason for _, reason in result.refused)
    assert Prediction.objects.count() == 1


def test_a_zip_bomb_is_refused_whole_and_nothing_is_stored(alice):
    bomb = zip_upload({"a.jpg": jpeg_bytes(), "huge.jpg": b"\xff\xd8\xff" + bytes(30 * 1024 * 1024)}, name="bomb.zip")

    result = images_import(entries=upload_entries([bomb]), annotator=alice)

    assert result.imported == ()
    [(name, reason)] = result.refused
    assert name == "bomb.zip"
    assert "zip bomb" in reason
    assert Prediction.objects.count() == 0


def test_a_zip_with_more_files_than_the_limit_is_refused(alice, monkeypatch):
    monkeypatch.setattr("predictions.batch.MAX_ENTRIES", 3)
    many = zip_upload({f"{i}.jpg": jpeg_bytes(seed=i) for i in range(4)})

    result = images_import(entries=upload_entries([many]), annotator=alice)

    assert result.imported == ()
    assert "holds 4 files; the limit is 3" in result.refused[0][1]


def test_exact_duplicates_are_skipped_in_one_import_and_in_the_next_one(alice):
    photo = jpeg_bytes(seed=4)
    files = [SimpleUploadedFile("a.jpg", photo), SimpleUploadedFile("again.jpg", photo), zip_upload({"b.jpg": photo})]

    first = images_import(entries=upload_entries(files), annotator=alice, label="happy")
    second = images_import(entries=upload_entries([SimpleUploadedFile("c.jpg", photo)]), annotator=alice)

    assert [item.name for item in first.imported] == ["a.jpg"]
    stored = first.imported[0].prediction_id
    assert [(d.name, d.prediction_id, d.same_as) for d in first.duplicates] == [
        ("again.jpg", stored, "a.jpg"),
        ("b.jpg", stored, "a.jpg"),
    ]
    assert [(d.name, d.prediction_id, d.same_as) for d in second.duplicates] == [("c.jpg", stored, "")]
    assert Prediction.objects.count() == 1
    assert Annotation.objects.get().label == "happy"
    assert first.labeled == 1


def test_labels_come_from_folder_names_and_an_unknown_folder_is_refused_with_the_reason(alice):
    upload = zip_upload(
        {
            "project/happy/1.jpg": jpeg_bytes(seed=1),
            "project/sad/2.jpg": jpeg_bytes(seed=2),
            "project/pets/3.jpg": jpeg_bytes(seed=3),
            "__MACOSX/project/happy/._1.jpg": b"resource fork",
            "project/.DS_Store": b"finder",
            "project/happy/notes.txt": b"not a photo",
        }
    )

    result = images_import(entries=upload_entries([upload]), annotator=alice, labels_from_folders=True)

    assert {(item.name, item.label) for item in result.imported} == {
        ("project/happy/1.jpg", "happy"),
        ("project/sad/2.jpg", "sad"),
    }
    refused = dict(result.refused)
    assert set(refused) == {"project/pets/3.jpg", "project/happy/notes.txt"}
    assert "'pets' is not a label" in refused["project/pets/3.jpg"]
    assert "upload a JPEG, PNG or WebP photo" in refused["project/happy/notes.txt"]
    assert result.labeled == 2
    assert sorted(Annotation.objects.values_list("label", "annotator__username")) == [
        ("happy", "alice"),
        ("sad", "alice"),
    ]
    assert Prediction.objects.filter(consent=True).count() == 2  # the team's own photos are shared


def test_a_folder_import_strips_metadata_and_stores_photos_by_content(alice, tmp_path: Path):
    from tests.images import SECRET_COMMENT, jpeg_with_private_metadata

    (tmp_path / "neutral").mkdir()
    (tmp_path / "neutral" / "gps.jpg").write_bytes(jpeg_with_private_metadata())

    result = images_import(entries=folder_entries(tmp_path), annotator=alice, labels_from_folders=True)

    [item] = result.imported
    stored = Prediction.objects.get(pk=item.prediction_id).image
    assert stored.name.startswith("uploads/") and len(Path(stored.name).stem) == 64
    assert SECRET_COMMENT not in stored.read()


# ---- the API ---------------------------------------------------------------------------------------
def post_import(client: APIClient, **data: object):  # type: ignore[no-untyped-def]
    return client.post("/api/imports/", data, format="multipart")


def test_anonymous_people_and_plain_users_cannot_import(django_user_model):
    plain = django_user_model.objects.create_user(username="parent", password="a-long-password-1")
    photo = SimpleUploadedFile("a.jpg", jpeg_bytes())

    assert post_import(APIClient(), images=[photo]).status_code == 403
    answer = post_import(client_for(plain), images=[photo])
    assert answer.status_code == 403
    assert "annotator" in answer.json()["error"]
    assert Prediction.objects.count() == 0


def test_an_annotator_imports_files_and_a_zip_and_reads_each_files_fate(alice):
    files = [
        SimpleUploadedFile("one.jpg", jpeg_bytes(seed=1)),
        zip_upload({"two.jpg": jpeg_bytes(seed=2), "one-again.jpg": jpeg_bytes(seed=1), "x.gif": b"GIF89a"}),
    ]

    answer = post_import(client_for(alice), images=files, label="surprise")

    assert answer.status_code == 200
    body = answer.json()
    assert [item["name"] for item in body["imported"]] == ["one.jpg", "two.jpg"]
    assert {item["label"] for item in body["imported"]} == {"surprise"}
    assert body["duplicates"] == [{"name": "one-again.jpg", "id": body["imported"][0]["id"], "same_as": "one.jpg"}]
    assert body["refused"][0]["name"] == "x.gif"
    assert "GIF" in body["refused"][0]["reason"]
    assert body["labeled"] == 2
    assert Annotation.objects.filter(label="surprise", annotator=alice).count() == 2


def test_an_import_without_files_or_with_an_unknown_label_is_refused_in_the_house_error_shape(alice):
    client = client_for(alice)

    nothing = post_import(client, label="happy")
    wrong = post_import(client, images=[SimpleUploadedFile("a.jpg", jpeg_bytes())], label="grumpy")

    assert nothing.status_code == 400
    assert "images" in nothing.json()["error"]
    assert wrong.status_code == 400
    assert '"grumpy" is not a valid choice' in wrong.json()["error"]
    assert Prediction.objects.count() == 0


# ---- the command -----------------------------------------------------------------------------------
def labeled_folder(root: Path) -> Path:
    for i, label in enumerate(["happy", "happy", "sad"]):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i}.jpg").write_bytes(jpeg_bytes(seed=i))
    (root / "sad" / "broken.jpg").write_bytes(b"\xff\xd8\xff broken")
    return root


def test_the_command_imports_a_folder_with_labels_and_reports_what_it_refused(alice, tmp_path: Path, capsys):
    call_command("import_images", str(labeled_folder(tmp_path)), "--labels-from-folders", "--annotator", "alice")

    out = capsys.readouterr().out
    assert "imported 3 photos (3 labeled), 0 duplicates skipped, 1 refused" in out
    assert "refused sad/broken.jpg: The file is not a JPEG image we can read" in out
    assert sorted(Annotation.objects.values_list("label", flat=True)) == ["happy", "happy", "sad"]

    call_command("import_images", str(tmp_path), "--labels-from-folders", "--annotator", "alice")
    again = capsys.readouterr().out
    assert "imported 0 photos (0 labeled), 3 duplicates skipped" in again
    assert "duplicate happy/0.jpg: stored before" in again


def test_the_command_labels_as_the_import_account_which_cannot_sign_in(tmp_path: Path, client):
    call_command("import_images", str(labeled_folder(tmp_path)), "--labels-from-folders")

    assert set(Annotation.objects.values_list("annotator__username", flat=True)) == {"import"}
    assert not Annotation.objects.first().annotator.has_usable_password()


def test_the_command_fails_for_an_unknown_annotator_or_when_nothing_can_be_imported(alice, django_user_model, tmp_path):
    django_user_model.objects.create_user(username="parent", password="a-long-password-1")
    (tmp_path / "junk.txt").write_text("no photos here")

    with pytest.raises(CommandError, match="no user is named 'nobody'"):
        call_command("import_images", str(tmp_path), "--annotator", "nobody")
    with pytest.raises(CommandError, match="'parent' is not an annotator"):
        call_command("import_images", str(tmp_path), "--annotator", "parent")
    with pytest.raises(CommandError, match="nothing could be imported"):
        call_command("import_images", str(tmp_path), "--annotator", "alice")
