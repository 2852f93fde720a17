"""Pages: upload, result, history."""

from __future__ import annotations

import mimetypes
from math import ceil

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods, require_POST

from accounts.sessions import owner_session_key, viewer_session_key
from common.api_errors import ServiceUnavailable
from common.throttling import rate_exceeded
from predictions import batch, selectors, services
from predictions.ml import InvalidImage
from predictions.models import Expression, Prediction


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    error, status, outcomes = None, 200, None
    if request.method == "POST":
        wait = rate_exceeded(request, scope="uploads")
        if wait is not None:
            error, status = f"Too many uploads: try again in {ceil(wait)} seconds.", 429
        else:
            files = request.FILES.getlist("image")
            owner = {"user": request.user, "session_key": owner_session_key(request)}
            consent = request.POST.get("consent") == "yes"
            try:
                if len(files) > 1 or (files and batch.is_zip(files[0])):  # several photos: listed on this page
                    outcomes = batch.predictions_create_many(
                        entries=batch.upload_entries(files), consent=consent, **owner
                    )
                else:
                    prediction = services.prediction_create(
                        upload=files[0] if files else None, consent=consent, **owner
                    )
                    return redirect("predictions:result", prediction_id=prediction.id)
            except InvalidImage as exc:
                error, status = str(exc), 400
            except ServiceUnavailable as exc:  # no model, MLflow or the image store down: that photo was not kept
                error, status = str(exc), 503
    live_model, model_problem = selectors.live_model_notice()
    return render(
        request,
        "predictions/upload.html",
        {
            "error": error,
            "outcomes": outcomes,
            "live_model": live_model,
            "model_problem": model_problem,
            "history": selectors.predictions_history(user=request.user, session_key=viewer_session_key(request)),
            "retention_days": settings.INFANTINO_RETENTION_DAYS,
        },
        status=status,
    )


def result(request: HttpRequest, prediction_id: str) -> HttpResponse:
    session_key = viewer_session_key(request)
    prediction = selectors.prediction_get_visible(
        prediction_id=prediction_id, user=request.user, session_key=session_key
    )
    if prediction is None:
        raise Http404("No prediction has this id.")
    deletable = selectors.prediction_get_deletable(
        prediction_id=prediction_id, user=request.user, session_key=session_key
    )
    owned = selectors.prediction_get_owned(prediction_id=prediction_id, user=request.user, session_key=session_key)
    return render(
        request,
        "predictions/result.html",
        {
            "prediction": prediction,
            "bars": _bars(prediction),
            "box": _box_percent(prediction),
            "can_delete": deletable is not None,
            "is_owner": owned is not None,
            "deletion_due": selectors.prediction_deletion_due(prediction=prediction),
            "likeliest": selectors.prediction_likeliest(prediction),
            "starter": selectors.version_is_starter(prediction.model_version),
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


@require_http_methods(["GET", "HEAD"])
def saliency(request: HttpRequest, prediction_id: str) -> HttpResponse:
    """Why the model answers as it does: the face crop under a heat map, for whoever may see the photo."""
    prediction = selectors.prediction_get_visible(
        prediction_id=prediction_id, user=request.user, session_key=viewer_session_key(request)
    )
    if prediction is None:
        raise Http404("No prediction has this id.")
    wait = rate_exceeded(request, scope="uploads")  # a map costs a few model passes: counted like an upload
    if wait is not None:
        response = HttpResponse(f"Too many requests: try again in {ceil(wait)} seconds.", status=429)
        response["Retry-After"] = str(ceil(wait))
        return response
    try:
        explanation = selectors.prediction_saliency(prediction=prediction)
    except FileNotFoundError:
        raise Http404("The photo is gone.") from None
    except ServiceUnavailable as exc:
        return HttpResponse(str(exc), status=503, content_type="text/plain; charset=utf-8")
    response = HttpResponse(explanation.png, content_type="image/png")
    response["X-Explained-Label"] = explanation.label
    response["X-Model-Version"] = explanation.model_version
    patch_cache_control(response, private=True, max_age=300)  # the photo's own rule: never kept by a shared cache
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


@require_http_methods(["GET", "POST"])
def my_data(request: HttpRequest) -> HttpResponse:
    """What this person stored, each photo's consent (changeable), and a confirmed button that deletes all of it."""
    session_key = viewer_session_key(request)
    if request.method == "POST" and request.POST.get("action") == "consent":
        return _consent_change(request, session_key)
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the box to confirm: nothing was deleted.")
            return redirect("predictions:my-data")
        close_account = request.POST.get("account") == "yes" and request.user.is_authenticated
        try:
            if close_account:
                deleted = services.account_delete(user=request.user, session_key=session_key)
            else:
                deleted = services.user_data_delete(user=request.user, session_key=session_key)
        except ServiceUnavailable as exc:
            messages.error(request, str(exc))
            return redirect("predictions:my-data")
        if close_account:
            logout(request)
            messages.success(request, f"Your account is deleted, with {deleted.predictions} photos.")
            return redirect("predictions:upload")
        messages.success(
            request,
            f"Deleted {deleted.predictions} photos with their predictions, and {deleted.annotations} labels.",
        )
        return redirect("predictions:my-data")
    return render(
        request,
        "predictions/my_data.html",
        {
            "mine": selectors.my_data(user=request.user, session_key=session_key),
            "photos": selectors.predictions_recent(user=request.user, session_key=session_key, limit=MY_DATA_PHOTOS),
            "retention_days": settings.INFANTINO_RETENTION_DAYS,
        },
    )


MY_DATA_PHOTOS = 100  # the most recent photos listed with their consent on "My data"


def _consent_change(request: HttpRequest, session_key: str) -> HttpResponse:
    """One photo's consent, given or withdrawn by its uploader; someone else's photo reads as no photo at all."""
    prediction = selectors.prediction_get_owned(
        prediction_id=request.POST.get("prediction", ""), user=request.user, session_key=session_key
    )
    if prediction is None:
        raise Http404("No prediction has this id.")
    consent = request.POST.get("consent") == "yes"
    services.prediction_consent_set(prediction=prediction, consent=consent)
    if consent:
        messages.success(request, "Thank you: annotators may now see this photo and the model may learn from it.")
    else:
        messages.success(request, "This photo is now yours alone: no annotator sees it and no model learns from it.")
    return redirect("predictions:my-data")
