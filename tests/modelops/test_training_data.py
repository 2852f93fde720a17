"""A retrain's image folder: the infant dataset, linked, plus every image users labeled to consensus."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Annotation
from modelops.services.training_data import training_folder_build
from predictions.ml import data_folders
from predictions.selectors import predictions_labeled_to_consensus
from predictions.services import prediction_create
from tests.images import jpeg_bytes
from tests.mlcore.tiny_data import image_folder

pytestmark = pytest.mark.django_db


def test_a_retrain_learns_from_the_dataset_and_from_every_image_users_labeled(
    fake_backend, django_user_model, tmp_path
):
    dataset = data_folders(image_folder(tmp_path / "data" / "infant", per_label=4).parent).infant_dir
    user = django_user_model.objects.create_user("labeler", password="a-long-password")
    photo = prediction_create(upload=SimpleUploadedFile("b.jpg", jpeg_bytes(seed=9)), consent=True)
    Annotation.objects.create(image=photo, label="surprise", annotator=user, status=Annotation.Status.LEARNED)
    ignored = prediction_create(upload=SimpleUploadedFile("c.jpg", jpeg_bytes(seed=10)), consent=True)
    Annotation.objects.create(image=ignored, label="sad", annotator=user, status=Annotation.Status.QUEUED)

    folder = training_folder_build(
        dataset=dataset, labeled=predictions_labeled_to_consensus(), target=tmp_path / "images"
    )

    surprise = sorted(p.name for p in (folder / "surprise").iterdir())
    assert f"labeled-{photo.image.name.rsplit('/', 1)[-1]}" in surprise
    assert len([name for name in surprise if not name.startswith("labeled-")]) == 4
    assert (folder / "surprise" / "0.png").is_symlink()  # the dataset's own name: splits name photos alike
    assert not any(p.name.startswith("labeled-") for p in (folder / "sad").iterdir())
