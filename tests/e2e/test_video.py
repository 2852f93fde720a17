"""The clip page in a real browser: upload a clip of dev photos, watch the analysis, read and use the timeline."""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.conftest import SHARED_DATA
from tests.e2e.test_accessibility import blocking_violations
from tests.servers import app_env, app_server
from videos.media import write_clip

pytestmark = pytest.mark.e2e

FRAME = (480, 360)
SECONDS_EACH = 2
CLIP_FPS = 10
# Every change of #video-status, kept across the reload that follows the end of the analysis.
RECORD_STATUS = """
(() => {
  const seen = JSON.parse(sessionStorage.getItem("statuses") || "[]");
  const keep = (text) => { seen.push(text); sessionStorage.setItem("statuses", JSON.stringify(seen)); };
  new MutationObserver(() => {
    const status = document.getElementById("video-status");
    if (status && status.textContent !== seen[seen.length - 1]) keep(status.textContent);
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();
"""


def framed(path: Path) -> Image.Image:
    return ImageOps.pad(Image.open(path).convert("RGB"), FRAME, color=(0, 0, 0))


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


@dataclass(frozen=True)
class VideoApp:
    url: str
    shown: list[tuple[Image.Image, str]]  # the clip's photos, each with what the live model says for it alone


@pytest.fixture(scope="module")
def video_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoApp]:
    """A server whose live model tells three dev photos apart: the test model of the other pages says "happy" to all.

    Its tiny random extractor is kept; its head is fitted on the three photos' own embeddings, one label each.
    """
    import torch

    from mlcore.extractor import ExtractorConfig, build_extractor
    from mlcore.online import fit_head, new_head
    from mlcore.registry import Registry

    if not (SHARED_DATA / "infant").is_dir():
        pytest.skip(f"the infant dev photos are not at {SHARED_DATA}")
    var = tmp_path_factory.mktemp("video-app")
    registry = Registry(f"sqlite:///{var / 'mlflow.db'}", artifact_root=(var / "mlartifacts").as_uri())
    torch.manual_seed(0)
    extractor_id = registry.log_extractor(build_extractor(ExtractorConfig(image_size=32), imagenet=False).eval())
    rng = np.random.default_rng(0)
    starter = registry.register(
        head=fit_head(new_head(), rng.normal(size=(70, 64)).astype(np.float32), np.arange(70) % 7, epochs=2),
        extractor_id=extractor_id,
        kind="test",
        metrics={"infant_accuracy": 0.5, "fer_accuracy": 0.5},
    )
    model = registry.load(starter)
    chosen: list[tuple[Image.Image, np.ndarray]] = []
    photos = sorted(p for p in (SHARED_DATA / "infant").rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    for path in photos[::5]:
        image = framed(path)
        face = model.crop(image)
        if face.box is not None:
            chosen.append((image, model.embed([face.image])[0]))
        if len(chosen) == 3:
            break
    assert len(chosen) == 3, "the Haar cascade found fewer than three faces in the dev photos"
    # Each photo's embedding, jittered, under a label of its own; the other classes known from far-off noise.
    x = [vector + rng.normal(scale=0.005, size=(30, 64)) for _, vector in chosen]
    x.append(rng.normal(scale=0.5, size=(120, 64)))
    others = [index for index in range(7) if index not in TAUGHT]
    y = np.concatenate([np.full(30, index) for index in TAUGHT] + [np.array(others)[np.arange(120) % len(others)]])
    head = fit_head(new_head(seed=1, learning_rate=1e-2), np.concatenate(x).astype(np.float32), y, epochs=200)
    version = registry.register(
        head=head, extractor_id=extractor_id, kind="test", metrics={"infant_accuracy": 0.5, "fer_accuracy": 0.5}
    )
    registry.set_live(version, by="tests")
    env = app_env(var)  # no warm start: the first photo below loads the model, and the server stops sooner
    with app_server(env, var / "server.log") as url:
        shown = []
        for image, _ in chosen:
            alone = urllib.request.Request(
                url + "/api/predictions/", data=multipart_photo(jpeg(image)), method="POST", headers=MULTIPART
            )
            with urllib.request.urlopen(alone, timeout=300) as response:  # the first loads the model
                shown.append((image, json.loads(response.read())["top_label"]))
        yield VideoApp(url=url, shown=shown)


BOUNDARY = "video-test-boundary"
MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
TAUGHT = (3, 4, 6)  # happy, sad, neutral


def multipart_photo(data: bytes) -> bytes:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def test_a_clip_of_dev_photos_is_analysed_live_and_its_timeline_follows_the_photos_and_seeks_the_video(
    video_app: VideoApp, page, tmp_path: Path
):
    running_app, shown = video_app, video_app.shown
    assert len({label for _, label in shown}) == 3, shown  # three photos the live model tells apart
    page.add_init_script(RECORD_STATUS)
    page.goto(running_app.url + "/")
    clip = tmp_path / "photos.mp4"
    write_clip(clip, [image for image, _ in shown for _ in range(SECONDS_EACH * CLIP_FPS)], fps=CLIP_FPS)
    # A longer clip first, so that ours waits its turn and its whole analysis happens with the page open.
    noise = [np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8) for i in range(5)]
    write_clip(tmp_path / "noise.mp4", [Image.fromarray(noise[i % 5]) for i in range(200)], fps=CLIP_FPS)
    ahead = page.request.post(
        running_app.url + "/api/videos/",
        multipart={
            "video": {"name": "n.mp4", "mimeType": "video/mp4", "buffer": (tmp_path / "noise.mp4").read_bytes()},
            "fps": "10",
        },
    )
    assert ahead.status == 202

    page.set_input_files("[data-testid=video-input]", str(clip))
    page.click("[data-testid=clip-submit]")
    page.wait_for_url("**/videos/*/")
    page.locator("[data-testid=timeline]").wait_for(state="visible", timeout=300_000)

    statuses = page.evaluate("() => JSON.parse(sessionStorage.getItem('statuses') || '[]')")
    assert any(status.startswith("Analysing,") and "%" in status for status in statuses), statuses
    segments = page.locator("[data-testid=segments] button")
    spans = [
        (float(segments.nth(i).get_attribute("data-seek")), segments.nth(i).get_attribute("data-label"))
        for i in range(segments.count())
    ]
    for index, (_, label) in enumerate(shown):
        middle = index * SECONDS_EACH + SECONDS_EACH / 2
        covering = [seg_label for start, seg_label in spans if start <= middle][-1]
        assert covering == label, (index, spans, [label for _, label in shown])

    page.wait_for_function("() => document.getElementById('clip').readyState >= 1")
    chart = page.locator("[data-testid=timeline] svg")
    box = chart.bounding_box()
    duration = len(shown) * SECONDS_EACH
    left = box["width"] * 90 / 1000  # the band labels' margin in the chart's 1000-unit width
    target = duration * 0.75
    chart.click(position={"x": left + (box["width"] - left) * 0.75, "y": box["height"] / 2})
    page.wait_for_function(f"() => Math.abs(document.getElementById('clip').currentTime - {target}) < 0.5")
    assert abs(float(page.get_attribute("[data-testid=timeline]", "aria-valuenow")) - target) < 0.5

    page.focus("[data-testid=timeline]")
    page.keyboard.press("Home")
    page.wait_for_function("() => document.getElementById('clip').currentTime < 0.1")
    assert page.get_attribute("[data-testid=timeline]", "aria-valuetext").startswith("0:00")

    assert blocking_violations(page) == []
