"""Pages: create an account; see and delete everything you stored here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import selectors
from accounts.services import account_delete
from accounts.sessions import viewer_session_key
from infantino_site.api_errors import ServiceUnavailable
from predictions.services import user_data_delete


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}: your uploads are now kept with your account.")
        return redirect("predictions:upload")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def my_data(request: HttpRequest) -> HttpResponse:
    """What this person stored, and a confirmed button that deletes all of it."""
    session_key = viewer_session_key(request)
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            messages.error(request, "Tick the box to confirm: nothing was deleted.")
            return redirect("accounts:my-data")
        close_account = request.POST.get("account") == "yes" and request.user.is_authenticated
        try:
            if close_account:
                deleted = account_delete(user=request.user, session_key=session_key)
            else:
                deleted = user_data_delete(user=request.user, session_key=session_key)
        except ServiceUnavailable as exc:
            messages.error(request, str(exc))
            return redirect("accounts:my-data")
        if close_account:
            logout(request)
            messages.success(request, f"Your account is deleted, with {deleted.predictions} photos.")
            return redirect("predictions:upload")
        messages.success(
            request,
            f"Deleted {deleted.predictions} photos with their predictions, and {deleted.annotations} labels.",
        )
        return redirect("accounts:my-data")
    return render(
        request, "accounts/my_data.html", {"mine": selectors.my_data(user=request.user, session_key=session_key)}
    )
