"""The fast first model: trained from whatever data is given, registered, and never made live by itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcore.bootstrap import bootstrap
from mlcore.extractor import ExtractorConfig
from mlcore.registry import Registry
from tests.mlcore.tiny_data import fer_csv, image_folder


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=(tmp_path / "artifacts").as_uri(), model_name="tiny"
    )


def test_bootstrap_registers_a_version_from_both_domains_and_leaves_the_live_alias_alone(registry, tmp_path):
    result = bootstrap(
        registry,
        fer_csv=fer_csv(tmp_path / "fer.csv"),
        image_dir=image_folder(tmp_path / "imgs", per_label=4),
        config=ExtractorConfig(image_size=32, face_detector="none"),
        imagenet=False,
        steps=6,
    )

    assert registry.live_version() is None
    info = registry.version_info(result.version)
    assert info.tags["kind"] == "bootstrap"
    assert {"infant_accuracy", "fer_accuracy"} <= set(info.metrics)
    assert info.params["steps"] == "6"  # the run records how long the extractor was tuned
    reference = registry.load_reference(info.tags["extractor_id"])
    assert reference is not None and reference.domains == ["fer", "infant"]
    registry.set_live(result.version, by="test")
    assert registry.load().version == result.version


def test_bootstrap_needs_some_data(registry):
    with pytest.raises(ValueError, match="FER2013 CSV, an image folder, or both"):
        bootstrap(registry)
