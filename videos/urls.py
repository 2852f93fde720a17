from __future__ import annotations

from django.urls import path

from videos import views

app_name = "videos"

urlpatterns = [
    path("videos/", views.upload, name="upload"),
    path("videos/<str:video_id>/", views.page, name="page"),
    path("videos/<str:video_id>/file", views.file, name="file"),
    path("videos/<str:video_id>/delete/", views.delete, name="delete"),
]
