"""``predict_faces``: every face found is offered to the chooser, and only the face it picks is read."""

from __future__ import annotations

import threading
import time

import pytest

from mlcore import runtime
from predictions import ml
from tests.images import face_like


@pytest.mark.django_db
def test_the_model_reads_the_face_the_chooser_picks_and_nothing_where_it_picks_none(live_model):
    frames = [face_like(96, seed) for seed in range(3)]
    offered: list[list[tuple[int, int, int, int]]] = []

    def chooser(boxes):  # type: ignore[no-untyped-def]
        offered.append(list(boxes))
        return None if len(offered) == 2 else (8, 8, 40, 40)

    outcomes = ml.backend().predict_faces(frames, follow=chooser)

    assert len(offered) == 3  # one call per frame, in order
    assert outcomes[1] is None
    assert [o.prediction.face_box for o in (outcomes[0], outcomes[2])] == [(8, 8, 40, 40)] * 2
    assert all(o.prediction.model_version == live_model for o in (outcomes[0], outcomes[2]))
    alone = ml.backend().predict_faces([frames[0]], follow=lambda boxes: (8, 8, 40, 40))[0]
    assert alone.prediction.probabilities == pytest.approx(outcomes[0].prediction.probabilities, abs=1e-5)


def test_the_fake_finds_no_face_in_a_flat_picture(fake_backend):
    from tests.images import solid

    outcomes = fake_backend.predict_faces(
        [solid((90, 90, 90)), face_like(64)], follow=lambda boxes: max(boxes, default=None)
    )

    assert outcomes[0] is None and outcomes[1] is not None


@pytest.mark.django_db
def test_a_clips_frames_wait_while_a_photo_is_being_answered(live_model, monkeypatch):
    backend = ml.backend()
    detector = backend.live.current().detector
    detect, answering, release = detector.detect, threading.Event(), threading.Event()

    def slow_for_the_photo(image):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "photo":
            answering.set()
            release.wait(10)
        return detect(image)

    monkeypatch.setattr(detector, "detect", slow_for_the_photo)
    monkeypatch.setattr(runtime, "FOREGROUND_MAX_WAIT_S", 30.0)  # however slow this machine, the frame still waits
    offered: list[float] = []
    photo = threading.Thread(target=lambda: backend.predict(face_like(96, 0)), name="photo")
    photo.start()
    assert answering.wait(10)
    frames = threading.Thread(
        target=lambda: backend.predict_faces([face_like(96, 1)], follow=lambda boxes: offered.append(1))
    )
    frames.start()
    time.sleep(0.3)
    assert offered == []  # the frame waits for the photo's answer
    release.set()
    photo.join(10)
    frames.join(10)
    assert offered == [1]
