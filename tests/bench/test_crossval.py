"""Cross-validation on tiny generated photos: every photo scored once, and an unlabeled fold's labels never learned."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.crossval import cross_validate, photo_folds
from mlcore.registry import Registry
from mlcore.training import TrainConfig
from tests.mlcore.tiny_data import image_folder


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return image_folder(tmp_path_factory.mktemp("cv") / "imgs", per_label=5, duplicate=False)


def test_with_an_unlabeled_fold_each_model_learns_no_label_of_the_next_fold(images, tmp_path):
    base = TrainConfig.tiny(fer_csv=None, image_dir=images, work_dir=Path("unused"), infant_epochs=0)
    report = cross_validate(base, [{}], k=5, seed=0, work=tmp_path, unlabeled_fold=True)

    assert report["unlabeled_fold"] and report["recipes"]["A"]["overall"]["n"] == 35  # every photo scored once
    folds = photo_folds(images, k=5, seed=0)
    registry = Registry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=(tmp_path / "artifacts").as_uri(), model_name="crossval"
    )
    versions = sorted(registry.versions(), key=lambda info: int(info.tags["cv_fold"]))
    assert len(versions) == 5
    for fold, info in enumerate(versions):
        split = registry.version_json(info.version, "split.json")
        test, uploads = ({folds.names[i] for i in folds.test[f % 5]} for f in (fold, fold + 1))
        assert set(split["test"]) == test
        learned = set(split["train"]) | set(split["val"])
        assert not learned & uploads and len(learned) == 35 - len(test) - len(uploads)
