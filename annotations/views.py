"""The labeling queue page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from accounts.roles import is_annotator
from annotations import selectors
from annotations.learning.warmup import request_warm_up
from predictions.models import Expression
from predictions.selectors import live_model_notice


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
        },
    )
