from django.urls import path

from modelops import api

urlpatterns = [
    path("models/live/", api.LiveModelApi.as_view(), name="api-model-live"),
]
