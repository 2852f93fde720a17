"""The model-version dashboard (staff only): versions, their details, promote, roll back, retrain, consolidate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import user_passes_test
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from accounts.roles import is_admin
from modelops import selectors
from modelops.charts import accuracy_chart, reliability_chart
from modelops.models import TrainingJob
from modelops.services import ModelChangeError, consolidation_start, model_promote, model_rollback, retrain
from predictions.ml import ReliabilityBin

staff_only = user_passes_test(is_admin)


@staff_only
def dashboard(request: HttpRequest) -> HttpResponse:
    state = selectors.dashboard_get(calibration_version=request.GET.get("calibration", ""))
    calibration = state.calibration
    return render(
        request,
        "modelops/dashboard.html",
        {
            "versions": state.versions,
            "chart": mark_safe(accuracy_chart(state.versions)),  # built from numbers and escaped version labels only
            "changes": state.changes,
            "job": state.job,
            "job_payload": state.job_payload,
            "consolidate_every": settings.INFANTINO_CONSOLIDATE_EVERY,
            "retrain_every": settings.INFANTINO_RETRAIN_EVERY,
            "labeled_since_retrain": state.labeled_since_retrain,
            "calibration": calibration,
            "reliability": _reliability_svg(calibration.bins, version=calibration.version, domain=calibration.title)
            if calibration
            else "",
        },
    )


def _with_diagrams(detail: selectors.VersionDetail) -> list[dict[str, Any]]:
    """Each domain's table with its reliability diagram drawn."""
    version = detail.row.version
    return [
        {**table, "reliability_svg": _reliability_svg(table["reliability"], version=version, domain=table["title"])}
        for table in detail.domains
    ]


def _reliability_svg(bins: Sequence[ReliabilityBin] | None, *, version: str, domain: str) -> str:
    if not bins:
        return ""
    title = f"Reliability diagram of version {version} on {domain} validation photos"
    return mark_safe(reliability_chart(bins, title=title))  # numbers and an escaped title only


@staff_only
def version_detail(request: HttpRequest, version: str) -> HttpResponse:
    detail = selectors.model_version_detail(version=version)
    if detail is None:
        raise Http404("No model version has this number.")
    return render(request, "modelops/version.html", {"detail": detail, "domains": _with_diagrams(detail)})


@staff_only
def compare(request: HttpRequest) -> HttpResponse:
    a = selectors.model_version_detail(version=request.GET.get("a", ""))
    b = selectors.model_version_detail(version=request.GET.get("b", ""))
    if a is None or b is None:
        raise Http404("Choose two existing versions to compare.")
    return render(request, "modelops/compare.html", {"pair": [(a, _with_diagrams(a)), (b, _with_diagrams(b))]})


@staff_only
@require_POST
def promote(request: HttpRequest) -> HttpResponse:
    try:
        change = model_promote(
            version=request.POST.get("version", ""), user=request.user, reason=request.POST.get("reason", "")
        )
    except ModelChangeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Version {change.version} is live (was {change.previous_version or 'none'}).")
    return redirect("modelops:dashboard")


@staff_only
@require_POST
def rollback(request: HttpRequest) -> HttpResponse:
    try:
        change = model_rollback(user=request.user, reason=request.POST.get("reason", ""))
    except ModelChangeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rolled back: version {change.version} is live again.")
    return redirect("modelops:dashboard")


@staff_only
@require_POST
def retrain_start(request: HttpRequest) -> HttpResponse:
    preset = "tiny" if request.POST.get("preset") == "tiny" else "full"
    try:
        job = retrain.retrain_start(user=request.user, options={"preset": preset})
    except retrain.RetrainRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Retrain #{job.pk} started.")
    return redirect("modelops:dashboard")


@staff_only
@require_POST
def retrain_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        retrain.retrain_cancel(job_id=job_id)
    except retrain.RetrainRefused as exc:
        messages.error(request, str(exc))
    except TrainingJob.DoesNotExist:
        raise Http404("No retrain has this number.") from None
    else:
        messages.info(request, f"Retrain #{job_id} will stop at its next step.")
    return redirect("modelops:dashboard")


@staff_only
@require_POST
def consolidate(request: HttpRequest) -> HttpResponse:
    consolidation_start(user=request.user)
    messages.success(
        request,
        "Consolidation started: the head is refitted on every label in the background, "
        "and goes live if the guard lets it.",
    )
    return redirect("modelops:dashboard")
