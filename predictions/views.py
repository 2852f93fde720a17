"""Pages: upload, result, history."""

from __future__ import annotations

import mimetypes
from math import ceil

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import user_passes_test
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import is_admin
from accounts.sessions import owner_session_key, viewer_session_key
from infantino_site.api_errors import ServiceUnavailable
from infantino_site.throttling import rate_exceeded
from predictions import selectors, services
from predictions.ml import InvalidImage
from predictions.charts import Series, line_chart
from predictions.models import Expression, Prediction, TrainingJob


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    error, status = None, 200
    if request.method == "POST":
        wait = rate_exceeded(request, scope="uploads")
        if wait is not None:
            error, status = f"Too many uploads: try again in {ceil(wait)} seconds.", 429
        else:
            try:
                prediction = services.prediction_create(
                    upload=request.FILES.get("image"), user=request.user, session_key=owner_session_key(request)
                )
            except InvalidImage as exc:
                error, status = str(exc), 400
            except ServiceUnavailable as exc:  # no model, MLflow or the image store down: nothing was kept
                error, status = str(exc), 503
            else:
                return redirect("predictions:result", prediction_id=prediction.id)
    live_model, model_problem = selectors.live_model_notice()
    return render(
        request,
        "predictions/upload.html",
        {
            "error": error,
            "live_model": live_model,
            "model_problem": model_problem,
            "history": selectors.predictions_recent(user=request.user, session_key=viewer_session_key(request)),
        },
        status=status,
    )


def result(request: HttpRequest, prediction_id: str) -> HttpResponse:
    prediction = selectors.prediction_get_visible(
        prediction_id=prediction_id, user=request.user, session_key=viewer_session_key(request)
    )
    if prediction is None:
        raise Http404("No prediction has this id.")
    deletable = selectors.prediction_get_deletable(
        prediction_id=prediction_id, user=request.user, session_key=viewer_session_key(request)
    )
    return render(
        request,
        "predictions/result.html",
        {
            "prediction": prediction,
            "bars": _bars(prediction),
            "box": _box_percent(prediction),
            "can_delete": deletable is not None,
        },
    )


@require_http_methods(["GET", "HEAD"])
def image(request: HttpRequest, prediction_id: str) -> HttpResponse:
    """The photo itself, for whoever may see the prediction: streamed from the local folder, or a presigned S3 URL."""
    prediction = selectors.prediction_get_visible(
        prediction_id=prediction_id, user=request.user, session_key=viewer_session_key(request)
    )
    if prediction is None:
        raise Http404("No prediction has this id.")
    if not settings.SERVE_MEDIA:
        redirect_to = HttpResponseRedirect(prediction.image.url)
        patch_cache_control(redirect_to, private=True, no_store=True)  # the URL it points to soon expires
        return redirect_to
    try:
        kind = mimetypes.guess_type(prediction.image.name)[0] or "image/jpeg"
        response = FileResponse(prediction.image.open("rb"), content_type=kind)
    except FileNotFoundError:
        raise Http404("The photo is gone.") from None
    patch_cache_control(response, private=True, max_age=300)  # never kept by a shared cache
    return response


@require_POST
def delete(request: HttpRequest, prediction_id: str) -> HttpResponse:
    prediction = selectors.prediction_get_deletable(
        prediction_id=prediction_id, user=request.user, session_key=viewer_session_key(request)
    )
    if prediction is None:
        raise Http404("No prediction has this id.")
    try:
        services.prediction_delete(prediction=prediction)
    except ServiceUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("predictions:result", prediction_id=prediction.pk)
    messages.success(request, "The photo, its prediction and every label on it are deleted.")
    return redirect("predictions:upload")


def _bars(prediction: Prediction) -> list[dict[str, object]]:
    return [
        {
            "label": label,
            "percent": round(100 * prediction.probabilities.get(label, 0.0), 1),
            "top": label == prediction.top_label,
        }
        for label in Expression.values
    ]


def _box_percent(prediction: Prediction) -> dict[str, float] | None:
    if not prediction.face_box:
        return None
    x, y, w, h = prediction.face_box
    return {
        "left": 100 * x / prediction.width,
        "top": 100 * y / prediction.height,
        "width": 100 * w / prediction.width,
        "height": 100 * h / prediction.height,
    }


# ---- the model-version dashboard (staff only) ----------------------------------------------------------
staff_only = user_passes_test(is_admin)

METRIC_COLUMNS = [("infant", "Infant"), ("fer", "FER2013")]


@staff_only
def dashboard(request: HttpRequest) -> HttpResponse:
    versions = selectors.model_versions()
    chronological = list(reversed(versions))
    chart = line_chart(
        [
            Series("Infant accuracy", "infant", [(v.version, v.metrics.get("infant_accuracy")) for v in chronological]),
            Series("FER2013 accuracy", "fer", [(v.version, v.metrics.get("fer_accuracy")) for v in chronological]),
        ],
        title="Accuracy on both domains over model versions",
    )
    job = selectors.training_job_current()
    return render(
        request,
        "predictions/dashboard.html",
        {
            "versions": versions,
            "chart": mark_safe(chart),  # built from numbers and escaped version labels only
            "changes": selectors.model_changes(),
            "job": job,
            "job_payload": services.training_job_payload(job) if job else None,
        },
    )


@staff_only
def version_detail(request: HttpRequest, version: str) -> HttpResponse:
    detail = selectors.model_version_detail(version=version)
    if detail is None:
        raise Http404("No model version has this number.")
    return render(request, "predictions/version.html", {"detail": detail, "domains": _domain_tables(detail)})


@staff_only
def compare(request: HttpRequest) -> HttpResponse:
    a = selectors.model_version_detail(version=request.GET.get("a", ""))
    b = selectors.model_version_detail(version=request.GET.get("b", ""))
    if a is None or b is None:
        raise Http404("Choose two existing versions to compare.")
    return render(
        request,
        "predictions/compare.html",
        {
            "pair": [(a, _domain_tables(a)), (b, _domain_tables(b))],
        },
    )


@staff_only
@require_POST
def promote(request: HttpRequest) -> HttpResponse:
    try:
        change = services.model_promote(
            version=request.POST.get("version", ""), user=request.user, reason=request.POST.get("reason", "")
        )
    except services.ModelChangeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Version {change.version} is live (was {change.previous_version or 'none'}).")
    return redirect("predictions:dashboard")


@staff_only
@require_POST
def rollback(request: HttpRequest) -> HttpResponse:
    try:
        change = services.model_rollback(user=request.user, reason=request.POST.get("reason", ""))
    except services.ModelChangeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rolled back: version {change.version} is live again.")
    return redirect("predictions:dashboard")


@staff_only
@require_POST
def retrain_start(request: HttpRequest) -> HttpResponse:
    preset = "tiny" if request.POST.get("preset") == "tiny" else "full"
    try:
        job = services.retrain_start(user=request.user, options={"preset": preset})
    except services.RetrainRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Retrain #{job.pk} started.")
    return redirect("predictions:dashboard")


@staff_only
@require_POST
def retrain_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    try:
        services.retrain_cancel(job_id=job_id)
    except services.RetrainRefused as exc:
        messages.error(request, str(exc))
    except TrainingJob.DoesNotExist:
        raise Http404("No retrain has this number.") from None
    else:
        messages.info(request, f"Retrain #{job_id} will stop at its next step.")
    return redirect("predictions:dashboard")


def _domain_tables(detail: selectors.VersionDetail) -> list[dict[str, object]]:
    tables = []
    for domain, title in METRIC_COLUMNS:
        metrics = detail.row.metrics
        matrix = detail.confusion.get(domain)
        rows = []
        if matrix:
            for label, counts in zip(Expression.values, matrix, strict=False):
                total = sum(counts) or 1
                rows.append({"label": label, "cells": [{"count": c, "share": round(100 * c / total)} for c in counts]})
        tables.append(
            {
                "domain": domain,
                "title": title,
                "accuracy": metrics.get(f"{domain}_accuracy"),
                "macro_f1": metrics.get(f"{domain}_macro_f1"),
                "ece": metrics.get(f"{domain}_ece"),
                "recall": [(label, metrics.get(f"{domain}_recall_{label}")) for label in Expression.values],
                "confusion": rows,
            }
        )
    return tables
