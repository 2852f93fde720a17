"""The user list in /admin/ shows and lifts sign-in lockouts."""

from __future__ import annotations

import math
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.lockout import login_lockout_lift, login_lockout_of

User = get_user_model()


@admin.action(description="Lift the sign-in lockout of the selected users")
def lift_login_lockout(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    usernames = [user.get_username() for user in queryset]
    login_lockout_lift(usernames=usernames)
    modeladmin.message_user(request, f"Lifted the sign-in lockout of {len(usernames)} user(s).", messages.SUCCESS)


class AccountAdmin(UserAdmin):
    actions = [lift_login_lockout]
    list_display = (*UserAdmin.list_display, "login_lockout")

    @admin.display(description="sign-in locked")
    def login_lockout(self, user: Any) -> str:
        wait = login_lockout_of(user.get_username())
        return "" if wait is None else f"{math.ceil(wait / 60)} min more"


admin.site.unregister(User)
admin.site.register(User, AccountAdmin)
