"""Pages: upload, result, history."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from mlcore.imageio import InvalidImage
from predictions import selectors, services
from predictions.ml import ModelUnavailable
from predictions.models import Expression, Prediction


def _session_key(request: HttpRequest) -> str:
    if request.session.session_key is None:
        request.session.save()
    return request.session.session_key or ""


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    error = None
    if request.method == "POST":
        try:
            prediction = services.prediction_create(
                upload=request.FILES.get("image"), user=request.user, session_key=_session_key(request)
            )
        except (InvalidImage, ModelUnavailable) as exc:
            error = str(exc)
        else:
            return redirect("predictions:result", prediction_id=prediction.id)
    return render(
        request,
        "predictions/upload.html",
        {
            "error": error,
            "live_model": selectors.live_model_summary(),
            "history": selectors.predictions_recent(user=request.user, session_key=_session_key(request)),
        },
        status=400 if error else 200,
    )


def result(request: HttpRequest, prediction_id: str) -> HttpResponse:
    prediction = selectors.prediction_get(prediction_id=prediction_id)
    if prediction is None:
        raise Http404("No prediction has this id.")
    return render(request, "predictions/result.html", {"prediction": prediction, "bars": _bars(prediction),
                                                        "box": _box_percent(prediction)})


def _bars(prediction: Prediction) -> list[dict[str, object]]:
    return [
        {"label": label, "percent": round(100 * prediction.probabilities.get(label, 0.0), 1),
         "top": label == prediction.top_label}
        for label in Expression.values
    ]


def _box_percent(prediction: Prediction) -> dict[str, float] | None:
    if not prediction.face_box:
        return None
    x, y, w, h = prediction.face_box
    return {"left": 100 * x / prediction.width, "top": 100 * y / prediction.height,
            "width": 100 * w / prediction.width, "height": 100 * h / prediction.height}
