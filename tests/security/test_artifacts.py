"""Model artifacts swapped in the artifact store are refused: checksums recorded at registration, skops
with trusted types only, ``torch.load(weights_only=True)``; serving keeps the model it has."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import torch

from mlcore.extractor import WEIGHTS_FILE, ExtractorConfig, build_extractor
from mlcore.graph import GRAPH_FILE
from mlcore.online import SKOPS_TRUSTED_TYPES
from mlcore.reference import REFERENCE_FILE, ReferenceData
from mlcore.registry import ArtifactRefused, Registry
from tests.conftest import tiny_head


def local_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def head_dir(registry: Registry, version: str) -> Path:
    """Where the artifact store keeps a version's head (a file store in these tests)."""
    source = registry.client.get_model_version(registry.model_name, version).source
    if source.startswith("models:/"):  # registered through a logged model, as versions before 2026-12-08 were
        return local_path(registry.client.get_logged_model(source.removeprefix("models:/")).artifact_location)
    return local_path(source)


def extractor_dir(registry: Registry, extractor_id: str) -> Path:
    return local_path(registry.client.get_run(extractor_id).info.artifact_uri) / "extractor"


def fresh(registry: Registry) -> Registry:
    """Another process's view of the same store: nothing cached in memory."""
    return Registry(registry.tracking_uri, artifact_root=registry.artifact_root, model_name=registry.model_name)


def tiny_extractor():  # type: ignore[no-untyped-def]
    torch.manual_seed(1)
    return build_extractor(ExtractorConfig(image_size=32), imagenet=False).eval()


def tiny_reference() -> ReferenceData:
    rng = np.random.default_rng(0)
    return ReferenceData(
        val_x={"infant": rng.normal(size=(7, 64)).astype(np.float32)},
        val_y={"infant": np.arange(7)},
        replay_x=rng.normal(size=(7, 64)).astype(np.float32),
        replay_y=np.arange(7),
        replay_domain=np.array(["infant"] * 7),
    )


@pytest.fixture
def store(mlflow_store: dict[str, str]) -> Registry:
    return Registry(
        mlflow_store["uri"], artifact_root=mlflow_store["artifacts"], model_name=f"t-{uuid.uuid4().hex[:8]}"
    )


class Marker:
    """Unpickling this touches a file: proof that a pickle was (or was not) executed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.path,))


def legacy_extractor(registry: Registry, directory: Path) -> str:
    """An extractor run logged the way it was before checksums existed: artifacts only."""
    run = registry.client.create_run(registry.experiment_id(), run_name="extractor", tags={"kind": "extractor"})
    registry.client.log_artifacts(run.info.run_id, str(directory), artifact_path="extractor")
    registry.client.set_terminated(run.info.run_id)
    return run.info.run_id


def legacy_version(registry: Registry, head: object, extractor_id: str, **log_model_options: object) -> str:
    """A version registered the way it was before checksums existed: no checksum tags."""
    import mlflow

    registry._activate()
    with mlflow.start_run(experiment_id=registry.experiment_id()):
        info = mlflow.sklearn.log_model(head, name="head", pip_requirements=["numpy"], **log_model_options)
    registry._ensure_registered_model()
    created = registry.client.create_model_version(
        registry.model_name, source=info.model_uri, tags={"extractor_id": extractor_id}, model_id=info.model_id
    )
    return str(created.version)


def test_registration_records_a_checksum_for_every_artifact_file(store):
    extractor_id = store.log_extractor(tiny_extractor(), reference=tiny_reference())
    version = store.register(head=tiny_head(), extractor_id=extractor_id, kind="test")

    head_sums = {k for k in store.version_info(version).tags if k.startswith("sha256/head/")}
    extractor_sums = {k for k in store.client.get_run(extractor_id).data.params if k.startswith("sha256/")}
    assert {f"sha256/head/{p.name}" for p in head_dir(store, version).iterdir()} == head_sums
    files = ("extractor.json", WEIGHTS_FILE, GRAPH_FILE, REFERENCE_FILE)
    assert extractor_sums == {f"sha256/extractor/{name}" for name in files}
    model = fresh(store).load(version)  # an untouched version loads, every file checked
    assert model.version == version


def test_a_head_swapped_in_the_artifact_store_is_refused(store, tiny_extractor_id):
    version = store.register(head=tiny_head(seed=0), extractor_id=tiny_extractor_id, kind="test")
    other = store.register(head=tiny_head(seed=1), extractor_id=tiny_extractor_id, kind="test")
    # A genuine head of this deployment, put where another version's head was: only the checksum can tell.
    (head_dir(store, version) / "model.skops").write_bytes((head_dir(store, other) / "model.skops").read_bytes())

    with pytest.raises(ArtifactRefused, match=r"model.skops does not match the checksum"):
        fresh(store).load(version)


def test_an_edited_mlmodel_cannot_switch_the_head_to_pickle(store, tiny_extractor_id):
    version = store.register(head=tiny_head(), extractor_id=tiny_extractor_id, kind="test")
    mlmodel = head_dir(store, version) / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("serialization_format: skops", "serialization_format: pickle"))

    with pytest.raises(ArtifactRefused, match="MLmodel does not match"):
        fresh(store).load(version)


def test_tampered_extractor_weights_are_refused(store):
    extractor_id = store.log_extractor(tiny_extractor())
    version = store.register(head=tiny_head(), extractor_id=extractor_id, kind="test")
    weights = extractor_dir(store, extractor_id) / WEIGHTS_FILE
    state = torch.load(weights, weights_only=True)
    state["project.1.bias"] = state["project.1.bias"] + 0.5  # a quiet change to what the model computes
    torch.save(state, weights)

    with pytest.raises(ArtifactRefused, match=f"{WEIGHTS_FILE} does not match the checksum"):
        fresh(store).load(version)


def test_a_tampered_or_missing_reference_file_is_refused(store):
    extractor_id = store.log_extractor(tiny_extractor(), reference=tiny_reference())
    reference = extractor_dir(store, extractor_id) / REFERENCE_FILE
    assert fresh(store).load_reference(extractor_id) is not None
    poisoned = tiny_reference()
    poisoned.replay_y[:] = 3  # every replayed sample relabelled: online updates would learn it
    poisoned.save(reference)

    with pytest.raises(ArtifactRefused, match=f"{REFERENCE_FILE} does not match"):
        fresh(store).load_reference(extractor_id)
    reference.unlink()
    with pytest.raises(ArtifactRefused, match=r"reference data .* is missing"):
        fresh(store).load_reference(extractor_id)


def test_a_foreign_pickle_in_place_of_unchecksummed_weights_is_refused_unexecuted(store, tmp_path):
    tiny_extractor().save(tmp_path / "extractor")
    marker = tmp_path / "pickle-ran"
    torch.save({"project.1.bias": Marker(marker)}, tmp_path / "extractor" / WEIGHTS_FILE)
    extractor_id = legacy_extractor(store, tmp_path / "extractor")

    with pytest.raises(ArtifactRefused, match=r"weights of extractor .* were refused"):
        fresh(store).load_extractor(extractor_id)
    assert not marker.exists()


def test_a_foreign_skops_head_with_an_untrusted_type_is_refused(store, tiny_extractor_id):
    from sklearn.preprocessing import FunctionTransformer

    # Its own MLmodel declares the function trusted, as a foreign file would: only our list counts.
    foreign = FunctionTransformer(func=print)
    version = legacy_version(
        store,
        foreign,
        tiny_extractor_id,
        serialization_format="skops",
        skops_trusted_types=["builtins.print", "sklearn.preprocessing._function_transformer.FunctionTransformer"],
    )

    with pytest.raises(ArtifactRefused, match=r"untrusted|Untrusted"):
        fresh(store).load(version)


def test_a_head_saved_as_a_pickle_is_refused_without_being_unpickled(store, tiny_extractor_id, tmp_path):
    import pickle

    version = legacy_version(store, tiny_head(), tiny_extractor_id, serialization_format="cloudpickle")
    marker = tmp_path / "pickle-ran"
    (head_dir(store, version) / "model.pkl").write_bytes(pickle.dumps(Marker(marker)))

    with pytest.raises(ArtifactRefused, match="not a skops file"):
        fresh(store).load(version)
    assert not marker.exists()


def test_a_version_registered_before_checksums_still_loads_with_a_warning(store, caplog):
    extractor = tiny_extractor()
    extractor_id = store.log_extractor(extractor)
    version = legacy_version(
        store, tiny_head(), extractor_id, serialization_format="skops", skops_trusted_types=SKOPS_TRUSTED_TYPES
    )

    with caplog.at_level(logging.WARNING, logger="mlcore.registry"):
        model = fresh(store).load(version)

    assert model.version == version
    assert "registered before checksums were recorded" in caplog.text


@pytest.mark.django_db
def test_serving_keeps_the_old_model_when_the_new_live_version_is_tampered(
    settings, live_model, model_registry, tiny_extractor_id
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.test import APIClient

    from modelops import services
    from predictions import ml
    from tests.images import jpeg_bytes

    assert ml.backend().live.current().version == live_model
    tampered = model_registry.register(head=tiny_head(seed=2), extractor_id=tiny_extractor_id, kind="test")
    skops_file = head_dir(model_registry, tampered) / "model.skops"
    skops_file.write_bytes(skops_file.read_bytes()[:-10] + b"0123456789")

    with pytest.raises(services.ModelChangeError, match="cannot be served"):
        services.model_promote(version=tampered, user=None, reason="test")
    assert model_registry.live_version() == live_model  # the alias did not move
    with pytest.raises(ArtifactRefused):
        ml.backend().live.swap_to(tampered)

    model_registry.set_live(tampered)  # moved behind the app's back: every process polls and refuses it
    settings.INFANTINO_MODEL_POLL_SECONDS = 0
    response = APIClient().post(
        "/api/predictions/", {"image": SimpleUploadedFile("b.jpg", jpeg_bytes())}, format="multipart"
    )

    assert response.status_code == 201
    assert response.json()["model_version"] == live_model
    assert ml.backend().live.current().version == live_model
