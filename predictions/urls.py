from django.urls import path

from predictions import views

app_name = "predictions"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("predictions/<str:prediction_id>/", views.result, name="result"),
]
