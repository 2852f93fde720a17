"""The forgetting guard: the paired test, the forgetting bound and the per-class floor, by hand and on a tiny head."""

from __future__ import annotations

import numpy as np
import pytest

from mlcore import guard, learner
from mlcore.labels import LABEL_INDEX, NUM_CLASSES
from mlcore.reference import ReferenceData
from tests.mlcore.test_learner import blobs

FEAR, HAPPY = LABEL_INDEX["fear"], LABEL_INDEX["happy"]


def pool_with(infant_y: np.ndarray, fer_y: np.ndarray | None = None) -> guard.Pool:
    """A pool whose answers are given by hand: ``judge`` reads only the labels."""
    y = {"infant": infant_y, **({} if fer_y is None else {"fer": fer_y})}
    return guard.Pool(x={d: np.zeros((len(v), 2)) for d, v in y.items()}, y=y)


def answers(y: np.ndarray, wrong: list[int]) -> np.ndarray:
    """``y`` answered right except at ``wrong``."""
    out = y.copy()
    out[wrong] = (y[wrong] + 1) % NUM_CLASSES
    return out


def infant(y: np.ndarray, wrong: list[int]) -> dict[str, np.ndarray]:
    """A head's answers on a pool of infant photos only."""
    return {"infant": answers(y, wrong)}


@pytest.mark.parametrize(
    ("worse", "better", "p"),
    [(0, 0, 1.0), (5, 0, 1 / 32), (3, 1, 5 / 16), (1, 3, 15 / 16), (9, 1, 11 / 1024), (2, 2, 11 / 16)],
)
def test_the_exact_mcnemar_p_value_matches_the_binomial_tail_by_hand(worse, better, p):
    assert guard.exact_mcnemar(worse, better) == pytest.approx(p)


def test_only_the_images_whose_answer_changed_count_as_evidence():
    y = np.arange(70) % NUM_CLASSES
    anchor = infant(y, list(range(20)))  # 50 of 70 right
    # 10 photos newly wrong and 10 newly right: different, not worse (p = 0.59), whatever the accuracy says.
    shuffled = infant(y, list(range(10, 30)))
    assert guard.judge(pool_with(y), shuffled, anchor, tolerance=0.02).passed
    # 10 newly wrong, 1 newly right: p = 12/2048, held back with the numbers a person can check.
    worse = infant(y, [*range(1, 20), *range(20, 30)])
    verdict = guard.judge(pool_with(y), worse, anchor, tolerance=0.02)
    assert not verdict.passed
    assert verdict.reasons == (
        "infant accuracy 0.59 vs 0.71 at the anchor, paired test p = 0.0059 (10 images now wrong, 1 now right)",
    )
    assert verdict.metrics["guard_infant_p_anchor"] == pytest.approx(12 / 2048)
    assert verdict.metrics["guard_infant_change_anchor"] == pytest.approx(-9 / 70)


def test_one_label_that_undoes_the_lines_gains_is_held_back_against_its_parent():
    y = np.arange(70) % NUM_CLASSES
    anchor = infant(y, list(range(14)))  # the line has since put 8 of these right
    parent = infant(y, list(range(6)))
    candidate = {
        "infant": anchor["infant"].copy()
    }  # back to the anchor's answers: no worse than the anchor, 8 worse than its parent
    assert guard.judge(pool_with(y), candidate, anchor, tolerance=0.02).passed
    verdict = guard.judge(pool_with(y), candidate, anchor, parent, tolerance=0.02)
    assert verdict.reasons == (
        "infant accuracy 0.80 vs 0.91 before this label, paired test p = 0.0039 (8 images now wrong, 0 now right)",
    )


def test_small_steps_cannot_pile_up_past_the_anchor():
    y = np.arange(70) % NUM_CLASSES
    anchor = infant(y, [])
    parent = infant(y, [*range(6)])  # six photos lost over earlier labels: p = 0.016, over ANCHOR_ALPHA
    candidate = infant(y, [*range(7)])  # one more: nothing against its parent, p = 0.0078 against the anchor
    assert guard.judge(pool_with(y), candidate, parent, tolerance=0.02).passed
    verdict = guard.judge(pool_with(y), candidate, anchor, parent, tolerance=0.02)
    assert verdict.reasons == (
        "infant accuracy 0.90 vs 1.00 at the anchor, paired test p = 0.0078 (7 images now wrong, 0 now right)",
    )


def test_a_label_that_leaves_the_line_no_worse_is_not_refused_for_harm_done_before_it():
    y = np.repeat(np.arange(NUM_CLASSES), 10)
    fear = [*np.flatnonzero(y == FEAR)]
    anchor = infant(y, [])
    parent = infant(y, [*fear, 0, 1])  # fear collapsed and 12 photos lost: made live while the guard was off
    for candidate in (infant(y, [*fear, 0]), infant(y, [*fear, 0, 11])):  # one fixed; one fixed and one lost
        assert guard.judge(pool_with(y), candidate, anchor, parent, tolerance=0.02).passed
    worse = infant(y, [*fear, 0, 1, 11])
    reasons = guard.judge(pool_with(y), worse, anchor, parent, tolerance=0.02).reasons
    assert [reason.split(",")[0] for reason in reasons] == ["infant accuracy 0.81 vs 1.00 at the anchor"]


def test_the_source_domain_is_bounded_by_points_lost_not_by_significance():
    infant = np.arange(70) % NUM_CLASSES
    fer = np.arange(1000) % NUM_CLASSES
    anchor = {"infant": infant.copy(), "fer": answers(fer, list(range(400)))}
    # 15 FER images newly wrong, none right: significant (p = 3e-5) yet 1.5 points, inside the 2-point bound.
    small_loss = {**anchor, "fer": answers(fer, list(range(415)))}
    assert guard.judge(pool_with(infant, fer), small_loss, anchor, tolerance=0.02).passed
    big_loss = {**anchor, "fer": answers(fer, list(range(430)))}
    verdict = guard.judge(pool_with(infant, fer), big_loss, anchor, tolerance=0.02)
    assert verdict.reasons == (
        "fer accuracy 0.570 vs 0.600 at the anchor: 3.0 points lost, over the 2.0-point forgetting bound",
    )
    assert verdict.forgetting_only  # the learner may rehearse the source and ask again
    infant_worse = {**big_loss, "infant": answers(infant, list(range(20)))}  # 20 photos lost: p < 1e-6
    both = guard.judge(pool_with(infant, fer), infant_worse, anchor, tolerance=0.02)
    assert len(both.reasons) == 2 and not both.forgetting_only


def test_a_class_whose_recall_collapses_is_held_back_even_when_accuracy_holds():
    y = np.repeat(np.arange(NUM_CLASSES), 5)
    fear = np.flatnonzero(y == FEAR)
    happy = np.flatnonzero(y == HAPPY)
    anchor = infant(y, [*fear[:2], *happy[:3]])  # fear 3/5, happy 2/5
    candidate = infant(y, [*fear])  # fear 0/5, happy 5/5: three photos each way, p = 0.66
    verdict = guard.judge(pool_with(y), candidate, anchor, tolerance=0.02)
    assert verdict.reasons == ("class 'fear' recall on infant fell to 0.00 from 0.60",)


@pytest.mark.parametrize(
    ("per_class", "anchor_wrong", "candidate_wrong"),
    [
        (3, [1, 2], [0, 1, 2]),  # 1/3 → 0/3: one photo flipped
        (2, [], [0, 1]),  # 2/2 → 0/2: too few photos to call a collapse
        (10, [], [0, 1, 2, 3, 4]),  # 1.0 → 0.5: halved is not below half
        (10, [*range(8)], [*range(10)]),  # 0.2 → 0.0: two photos, yet only 0.2 of recall lost
    ],
)
def test_a_flip_or_a_dip_in_a_class_is_not_a_collapse(per_class, anchor_wrong, candidate_wrong):
    y = np.full(per_class, FEAR)
    assert guard.class_collapses("infant", y, answers(y, anchor_wrong), answers(y, candidate_wrong)) == []


def test_a_class_that_drifted_below_half_refuses_only_an_update_that_costs_it_significantly():
    y = np.full(140, FEAR)  # one class of a FER2013 sample
    anchor, parent = answers(y, []), answers(y, [*range(80)])  # the line had drifted to 0.43 before this label
    one_more = answers(y, [*range(81)])
    assert guard.class_collapses("fer", y, anchor, one_more, parent=parent) == []
    ten_more = answers(y, [*range(90)])  # ten images lost, none gained: p = 0.001
    assert guard.class_collapses("fer", y, anchor, ten_more, parent=parent) == [
        "class 'fear' recall on fer fell to 0.36 from 1.00"
    ]


def test_the_fer_sample_is_fixed_and_every_infant_photo_is_judged():
    def reference(seed: int) -> ReferenceData:
        rng = np.random.default_rng(seed)
        return ReferenceData(
            val_x={"fer": rng.normal(size=(1500, 4)), "infant": rng.normal(size=(69, 4))},
            val_y={"fer": np.arange(1500) % NUM_CLASSES, "infant": np.arange(69) % NUM_CLASSES},
            replay_x=np.zeros((0, 4)),
            replay_y=np.zeros(0, dtype=np.int64),
            replay_domain=np.zeros(0, dtype=str),
        )

    first, again = guard.pool_of(reference(0)), guard.pool_of(reference(0))
    assert len(first.y["fer"]) == guard.SOURCE_SAMPLE and len(first.y["infant"]) == 69
    assert np.array_equal(first.x["fer"], again.x["fer"])
    assert np.array_equal(first.x["infant"], reference(0).val_x["infant"])
    assert len(np.unique(first.x["fer"][:, 0])) == guard.SOURCE_SAMPLE  # drawn without replacement


# ---- on a tiny head: the update the guard must refuse, and the one it must let through ----------------


def fear_taught_as_happy(head, reference: ReferenceData, *, judged: bool) -> learner.UpdateResult:  # type: ignore[no-untyped-def]
    """``head`` corrected on fearful faces labeled happy."""
    x, _ = blobs(5, seed=11)
    fear = x[np.repeat(np.arange(NUM_CLASSES), 5) == FEAR]
    config = learner.LearnerConfig(strength=0.1, guard=judged)  # a prior too weak to hold the anchor's answers
    return learner.update_head(head, new=(fear, np.full(len(fear), HAPPY)), reference=reference, config=config)


def correct_label(head, reference: ReferenceData, *, anchor=None) -> learner.UpdateResult:  # type: ignore[no-untyped-def]
    """A correct label learned onto ``head`` (its own anchor, or the line of ``anchor``)."""
    x, y = blobs(1, seed=21)
    new = (x[FEAR : FEAR + 1], y[FEAR : FEAR + 1])
    if anchor is None:
        return learner.update_head(head, new=new, reference=reference)
    return learner.update_head(anchor, new=new, parent=head, reference=reference)


def test_the_guard_accepts_a_correct_label_on_a_tiny_head(trained, reference):
    result = correct_label(trained, reference)
    assert result.guard == learner.GUARD_PASSED and result.reasons == ()
    assert {"guard_infant_p_anchor", "guard_fer_change_anchor"} <= set(result.metrics)  # recorded with the version


def test_the_guard_holds_back_an_update_that_collapses_one_class_on_a_tiny_head(trained, reference):
    result = fear_taught_as_happy(trained, reference, judged=True)
    assert result.guard == learner.GUARD_FAILED
    assert any(reason.startswith("class 'fear' recall on infant fell to") for reason in result.reasons)


def test_a_correct_label_on_a_line_that_drifted_is_refitted_from_the_anchor_and_heals_it(trained, reference):
    drifted = fear_taught_as_happy(trained, reference, judged=False).head  # as if made live while the guard was off
    assert (
        learner.evaluate(drifted, reference)["infant_accuracy"]
        < learner.evaluate(trained, reference)["infant_accuracy"]
    )
    anchored = correct_label(drifted, reference, anchor=trained)
    assert anchored.accepted  # better than the parent it replaces, not refused for the line's old harm
    assert anchored.metrics["guard_infant_change_anchor"] >= 0  # the fear photos the line had lost are back
