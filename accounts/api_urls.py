from django.urls import path

from accounts import api

urlpatterns = [
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("me/delete-data/", api.MyDataDeleteApi.as_view(), name="api-me-delete-data"),
]
