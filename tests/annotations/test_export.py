from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotations.models import Adjudication, Annotation
from mlcore.datasets import folder_items
from mlcore.labels import LABELS
from predictions.models import Expression, Prediction
from predictions.services import prediction_create
from tests.annotations.conftest import client_for
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("inline_jobs", "fake_backend")]


@pytest.fixture
def project(make_annotator) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Photos in every state an export meets: agreed, disputed, adjudicated, unusable, unlabeled, private."""
    alice, bob = make_annotator("alice"), make_annotator("bob")
    staff = make_annotator("boss", is_staff=True)

    def photo(seed: int, consent: bool = True) -> Prediction:
        return prediction_create(upload=SimpleUploadedFile(f"{seed}.jpg", jpeg_bytes(seed=seed)), consent=consent)

    agreed, disputed, decided, unusable, unlabeled, private = (photo(i, consent=i != 5) for i in range(6))
    for image, votes in ((agreed, ("happy", "happy")), (disputed, ("sad", "angry")), (decided, ("sad", "fear"))):
        Annotation.objects.create(image=image, annotator=alice, label=votes[0])
        Annotation.objects.create(image=image, annotator=bob, label=votes[1])
    Adjudication.objects.create(image=decided, label="fear", adjudicator=staff, votes=[])
    Prediction.objects.filter(pk=unusable.pk).update(unusable="no_face", unusable_by=alice)
    Annotation.objects.create(image=private, annotator=alice, label="happy")  # consent withdrawn after labeling
    return {
        "staff": staff,
        "alice": alice,
        "agreed": agreed,
        "disputed": disputed,
        "decided": decided,
        "unusable": unusable,
        "unlabeled": unlabeled,
        "private": private,
    }


def export(client: APIClient, export_format: str = "csv"):  # type: ignore[no-untyped-def]
    return client.get(f"/api/export/?format={export_format}")


def body_of(response) -> str:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content).decode()


def test_the_csv_export_has_one_row_per_labeled_or_unusable_shared_photo_matching_the_database(project):
    response = export(client_for(project["staff"]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="infantino-labels-')
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(body_of(response)))}
    ids = {name: str(project[name].pk) for name in ("agreed", "disputed", "decided", "unusable")}
    assert set(rows) == set(ids.values())  # neither the unlabeled photo nor the private one
    agreed, disputed, decided, unusable = (rows[ids[name]] for name in ("agreed", "disputed", "decided", "unusable"))
    assert (agreed["label:alice"], agreed["label:bob"], agreed["consensus"], agreed["agreement"]) == (
        "happy",
        "happy",
        "happy",
        "1.0000",
    )
    assert (disputed["consensus"], disputed["agreement"], disputed["adjudicated"]) == ("", "0.0000", "false")
    assert (decided["label:alice"], decided["label:bob"], decided["consensus"], decided["adjudicated"]) == (
        "sad",
        "fear",
        "fear",
        "true",
    )
    assert (unusable["unusable"], unusable["labels"], unusable["label:alice"]) == ("no_face", "0", "")
    stored = Prediction.objects.get(pk=ids["agreed"])
    assert agreed["model_version"] == stored.model_version and agreed["predicted"] == stored.label
    assert [float(agreed[f"p_{label}"]) for label in Expression.values] == pytest.approx(
        [stored.probabilities[label] for label in Expression.values], abs=1e-6
    )


def test_the_jsonl_export_carries_the_votes_and_probabilities_as_objects(project):
    response = export(client_for(project["staff"]), "jsonl")

    records = {record["id"]: record for record in map(json.loads, body_of(response).splitlines())}
    decided = records[str(project["decided"].pk)]
    assert decided["labels"] == {"alice": "sad", "bob": "fear"}
    assert decided["consensus"] == "fear" and decided["adjudicated"] is True
    assert set(decided["probabilities"]) == set(LABELS)
    assert len(records) == 4


def test_only_staff_may_export(project, django_user_model):
    plain = django_user_model.objects.create_user(username="parent", password="a-long-password-1")

    assert export(APIClient()).status_code == 403
    assert export(client_for(plain)).status_code == 403
    refused = export(client_for(project["alice"]))
    assert refused.status_code == 403
    assert refused.json() == {"error": "Only staff can export the labels."}
    assert export(client_for(project["staff"]), "xlsx").json()["error"].startswith('Unknown format "xlsx"')


def test_the_command_lays_photos_out_one_folder_per_consensus_as_train_reads_them(project, tmp_path: Path, capsys):
    out = tmp_path / "labels.csv"

    call_command("export_labels", "--format", "csv", "--output", str(out), "--images", str(tmp_path / "photos"))

    assert len(list(csv.DictReader(io.StringIO(out.read_text())))) == 4
    items = folder_items(tmp_path / "photos")
    assert sorted((item.path.stem, LABELS[item.label]) for item in items) == sorted(
        [(str(project["agreed"].pk), "happy"), (str(project["decided"].pk), "fear")]
    )
    assert items[0].path.read_bytes() == Prediction.objects.get(pk=items[0].path.stem).image.read()
    report = capsys.readouterr().err
    assert "copied 2 photos" in report
    assert "left out 1 without a consensus and 1 marked unusable" in report


def test_the_command_refuses_a_photo_folder_that_is_not_empty(project, tmp_path: Path):
    (tmp_path / "happy").mkdir()

    with pytest.raises(CommandError, match="is not empty"):
        call_command("export_labels", "--images", str(tmp_path))
