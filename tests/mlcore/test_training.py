"""End-to-end training on tiny generated data: stages, registration, held-out split, cancel and resume."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from mlcore.registry import Registry
from mlcore.training import AFTER_FER, CHECKPOINT, TrainConfig, TrainingCancelled, train
from tests.mlcore.tiny_data import fer_csv, image_folder


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return {"images": image_folder(root / "imgs", per_label=5), "fer": fer_csv(root / "fer.csv")}


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=(tmp_path / "artifacts").as_uri(), model_name="tiny"
    )


def test_training_registers_a_version_with_metrics_reference_and_held_out_split(data, registry, tmp_path):
    events = []
    result = train(
        TrainConfig.tiny(fer_csv=data["fer"], image_dir=data["images"], work_dir=tmp_path / "w"),
        registry,
        progress=events.append,
    )

    served, recipe = registry.versions()  # the recipe scored on the held-out photos, then the head served
    assert served.version == result.version and served.tags["recipe_version"] == recipe.version
    assert (recipe.tags["fitted_on"], served.tags["fitted_on"]) == ("train", "train+test")
    assert served.metrics["test_infant_accuracy"] == recipe.metrics["test_infant_accuracy"]
    assert served.metrics["final_fit_n"] > recipe.metrics["infant_n"]
    assert registry.live_version() is None  # registered, not live: moving the alias is the caller's decision
    info = registry.version_info(result.version)
    assert info.tags["kind"] == "retrain" and info.tags["extractor_id"] == result.extractor_id
    for name in (
        "infant_accuracy",
        "infant_macro_f1",
        "infant_ece",
        "fer_accuracy",
        "fer_macro_f1",
        "fer_ece",
        "test_infant_accuracy",
        "train_seconds",
    ):
        assert name in info.metrics, name
    assert any(k.startswith("fer_recall_") for k in info.metrics)
    assert float(info.tags["temperature"]) == pytest.approx(result.calibration.temperature)
    assert 0.0 < float(info.tags["abstain_threshold"]) <= 1.0
    assert {"fer", "infant"} == {e.stage for e in events} & {"fer", "infant"}
    assert any(e.eta_seconds is not None for e in events if e.stage == "fer")

    reference = registry.load_reference(result.extractor_id)
    assert reference.domains == ["fer", "infant"]
    assert set(np.unique(reference.replay_domain)) == {"fer", "infant"}
    assert reference.replay_x.shape[1] == 64

    split = registry.version_json(result.version, "split.json")
    assert split["test"] == result.heldout and result.heldout
    assert not set(split["test"]) & (set(split["train"]) | set(split["val"]))
    # The photo filed under two labels sits on one side only.
    sides = [side for side in ("train", "val", "test") if {"angry/0.png", "sad/copy.jpg"} & set(split[side])]
    assert len(sides) == 1
    confusion = registry.version_json(result.version, "confusion.json")
    assert np.array(confusion["infant"]).shape == (7, 7)


def test_one_fer_step_changes_the_extractor(data, registry, tmp_path):
    config = TrainConfig.tiny(
        fer_csv=data["fer"],
        image_dir=data["images"],
        work_dir=tmp_path / "w",
        fer_steps=1,
        infant_epochs=0,
    )
    train(config, registry)
    after_fer = torch.load(tmp_path / "w" / AFTER_FER, weights_only=True)
    torch.manual_seed(config.seed)
    from mlcore.extractor import ExtractorConfig, build_extractor

    fresh = build_extractor(ExtractorConfig(image_size=32, face_detector="none"), imagenet=False).state_dict()
    key = "project.1.weight"
    assert not torch.equal(after_fer["extractor"][key], fresh[key])


def test_training_never_moves_the_live_alias(data, registry, tmp_path):
    config = TrainConfig.tiny(fer_csv=None, image_dir=data["images"], work_dir=tmp_path / "w", infant_epochs=0)
    first = train(config, registry)
    registry.set_live(first.version, by="test")

    second = train(replace(config, work_dir=tmp_path / "w2"), registry)

    assert registry.live_version() == first.version
    assert registry.version_info(second.version).parent == first.version


def test_a_cancelled_run_resumes_into_the_same_mlflow_run(data, registry, tmp_path):
    config = TrainConfig.tiny(fer_csv=data["fer"], image_dir=data["images"], work_dir=tmp_path / "w", fer_steps=4)
    calls = {"n": 0}

    def stop_after_two_steps() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(TrainingCancelled):
        train(config, registry, should_stop=stop_after_two_steps)
    checkpoint = torch.load(tmp_path / "w" / CHECKPOINT, weights_only=True)
    assert (checkpoint["stage"], checkpoint["step"]) == ("fer", 2)
    assert registry.live_version() is None

    result = train(replace(config, resume=True), registry)
    assert result.run_id == json.loads((tmp_path / "w" / "run.json").read_text())["run_id"]
    history = registry.client.get_metric_history(result.run_id, "fer_train_loss")
    assert [m.step for m in history] == [1, 2, 3, 4]


def test_the_registered_model_round_trips_and_abstains_above_its_threshold(data, registry, tmp_path):
    from mlcore.imageio import open_image_file

    result = train(
        TrainConfig.tiny(fer_csv=None, image_dir=data["images"], work_dir=tmp_path / "w", coverage=0.5), registry
    )
    registry.set_live(result.version, by="test")
    model = registry.load()
    assert model.version == result.version
    assert model.abstain_threshold == pytest.approx(result.calibration.abstain_threshold)
    prediction = model.predict(open_image_file(str(data["images"] / "happy" / "0.png")))
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    model.abstain_threshold = -1.0  # every answer is now too uncertain
    assert model.predict(open_image_file(str(data["images"] / "happy" / "0.png"))).label == "unsure"


def test_target_domain_statistics_replace_the_source_ones_and_keep_each_layers_momentum():
    from mlcore.extractor import ExtractorConfig, build_extractor
    from mlcore.progress import no_progress
    from mlcore.training import adapt_batch_norm

    extractor = build_extractor(ExtractorConfig(image_size=32, face_detector="none"), imagenet=False)
    norms = [m for m in extractor.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    target = torch.randn(16, 3, 32, 32) * 2 + 3  # a domain whose statistics differ from the initial ones
    adapt_batch_norm(extractor, target, no_progress)
    first = norms[0]
    assert not torch.allclose(first.running_mean, torch.zeros_like(first.running_mean))
    assert [m.momentum for m in norms] == momenta
    assert not extractor.training


def test_named_test_photos_are_the_held_out_ones_and_the_rest_split_into_train_and_val(data, registry, tmp_path):
    from mlcore.labels import LABELS

    chosen = tuple(f"{label}/1.png" for label in LABELS)
    config = TrainConfig.tiny(
        fer_csv=None, image_dir=data["images"], work_dir=tmp_path / "w", infant_epochs=0, test_names=chosen
    )
    result = train(config, registry)

    split = registry.version_json(result.version, "split.json")
    assert sorted(result.heldout) == sorted(split["test"]) == sorted(chosen)
    assert split["train"] and split["val"] and not set(split["train"]) & set(split["val"])
    assert len(split["train"]) + len(split["val"]) + len(chosen) == 5 * len(LABELS) + 1
    assert registry.version_info(result.version).metrics["test_infant_n"] == len(chosen)


def test_named_test_photos_with_a_near_duplicate_left_in_training_are_refused(data, tmp_path):
    from mlcore.progress import no_progress
    from mlcore.training.data import load_infant

    leaky = ("angry/0.png",)  # its re-encoded copy, sad/copy.jpg, would stay in training
    config = TrainConfig.tiny(fer_csv=None, image_dir=data["images"], work_dir=tmp_path / "w", test_names=leaky)
    with pytest.raises(ValueError, match="near-duplicate"):
        load_infant(config, no_progress)


def test_photos_named_unlabeled_are_never_learned_with_their_folders_labels(data, registry, tmp_path):
    from mlcore.labels import LABELS

    withheld = {f"{label}/2.png" for label in LABELS}
    config = TrainConfig.tiny(
        fer_csv=None,
        image_dir=data["images"],
        work_dir=tmp_path / "w",
        infant_epochs=0,
        unlabeled=tuple(str(data["images"] / name) for name in sorted(withheld)),
    )
    result = train(config, registry)

    split = registry.version_json(result.version, "split.json")
    learned = set(split["train"]) | set(split["val"]) | set(split["test"])
    assert not learned & withheld and len(learned) == 5 * len(LABELS) + 1 - len(withheld)
    assert registry.version_info(result.version).metrics["pseudo_labeled_n"] == 0  # pseudo_confidence is off


def test_the_head_learns_the_unlabeled_photos_it_is_sure_of_as_its_own_answers(data, registry, tmp_path):
    from tests.mlcore.tiny_data import distinct_face

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    for k in range(6):
        distinct_face(5000 + k, label=k).save(uploads / f"{k}.png")
    files = tuple(str(path) for path in sorted(uploads.iterdir()))

    def pseudo_labeled(confidence: float) -> float:
        config = TrainConfig.tiny(
            fer_csv=None,
            image_dir=data["images"],
            work_dir=tmp_path / f"w{confidence}",
            infant_epochs=0,
            unlabeled=files,
            pseudo_confidence=confidence,
        )
        return registry.version_info(train(config, registry).version).metrics["pseudo_labeled_n"]

    assert pseudo_labeled(0.01) == len(files)  # every answer is at least 1/7 sure
    assert pseudo_labeled(0.999) == 0  # a tiny head trained seconds is never that sure
