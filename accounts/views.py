"""Pages: create an account; the answer to a sign-in refused for too many failures."""

from __future__ import annotations

import math

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}: your uploads are now kept with your account.")
        return redirect("predictions:upload")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


def login_refused(request: HttpRequest, *, wait: float) -> HttpResponse:
    """429, saying how long to wait; the password was not checked."""
    response = render(request, "accounts/login_refused.html", {"minutes": math.ceil(wait / 60)}, status=429)
    response["Retry-After"] = str(math.ceil(wait))
    return response
