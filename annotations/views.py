"""The labeling pages: the queue, the conflicts an adjudicator settles, and per-annotator statistics for staff."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, user_passes_test
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_http_methods

from accounts.roles import is_adjudicator, is_admin, is_annotator
from annotations import selectors, services
from annotations.learning.warmup import request_warm_up
from annotations.selectors.effect import labeling_effect
from predictions.models import Expression
from predictions.selectors import live_model_notice

staff_only = user_passes_test(is_admin)


@login_required
@ensure_csrf_cookie
def queue(request: HttpRequest) -> HttpResponse:
    if not is_annotator(request.user):
        raise PermissionDenied("Only annotators label photos: ask an administrator to add you to the annotator group.")
    request_warm_up()
    live_model, model_problem = live_model_notice()
    return render(
        request,
        "annotations/queue.html",
        {
            "labels": Expression.values,
            "live_model": live_model,
            "model_problem": model_problem,
            "labels_per_image": settings.INFANTINO_LABELS_PER_IMAGE,
            "agreement": selectors.agreement_summary(),
            "progress": selectors.labeling_progress(annotator=request.user),
            "effect": labeling_effect(annotator=request.user),
            "blindness": selectors.blindness_for(request.user),
            "is_admin": is_admin(request.user),
            "is_adjudicator": is_adjudicator(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def conflicts(request: HttpRequest) -> HttpResponse:
    """Every vote on each image annotators disagree on; an adjudicator decides one label and may leave a note."""
    if not is_adjudicator(request.user):
        raise PermissionDenied("Only adjudicators settle conflicts: ask an administrator to add you to that group.")
    if request.method == "POST":
        try:
            decided = services.adjudication_create(
                image_id=request.POST.get("image", ""),
                label=request.POST.get("label", ""),
                adjudicator=request.user,
                note=request.POST.get("note", ""),
            )
        except services.AnnotationError as exc:
            messages.error(request, f"Not settled: {exc}")
        else:
            messages.success(request, f"Settled as {decided.label}: the model learns it like any agreed label.")
        return redirect("annotations:conflicts")
    return render(
        request,
        "annotations/conflicts.html",
        {
            "conflicts": selectors.conflicts_to_settle(viewer=request.user),
            "recent": selectors.adjudications_recent(),
            "blind": selectors.blindness_for(request.user).blind,
        },
    )


@login_required
@staff_only
@require_http_methods(["GET", "POST"])
def annotators(request: HttpRequest) -> HttpResponse:
    """Per annotator: labels, agreement with the consensus, median time per label, skips, unusable marks."""
    if request.method == "POST":
        blind = request.POST.get("blind") == "on"
        services.labeling_settings_update(blind=blind, by=request.user)
        messages.success(request, "Blind mode is on for everyone." if blind else "Blind mode is off for the project.")
        return redirect("annotations:annotators")
    return render(
        request,
        "annotations/annotators.html",
        {"rows": selectors.annotator_statistics(), "project": selectors.labeling_settings()},
    )
