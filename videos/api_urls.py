from __future__ import annotations

from django.urls import path

from videos import api

urlpatterns = [
    path("videos/", api.VideoCreateApi.as_view(), name="api-video-create"),
    path("videos/<str:video_id>/", api.VideoDetailApi.as_view(), name="api-video-detail"),
    path("videos/<str:video_id>/timeline.csv", api.VideoTimelineCsvApi.as_view(), name="api-video-timeline-csv"),
    path("videos/<str:video_id>/moments/", api.MomentCreateApi.as_view(), name="api-video-moments"),
]
