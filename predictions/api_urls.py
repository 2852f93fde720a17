from django.urls import path

from predictions import api

urlpatterns = [
    path("predictions/", api.PredictionListCreateApi.as_view(), name="api-prediction-create"),
    path("predictions/<str:prediction_id>/", api.PredictionDetailApi.as_view(), name="api-prediction-detail"),
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("me/delete-data/", api.MyDataDeleteApi.as_view(), name="api-me-delete-data"),
]
