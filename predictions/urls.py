from django.urls import path

from predictions import views

app_name = "predictions"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("predictions/<str:prediction_id>/", views.result, name="result"),
    path("predictions/<str:prediction_id>/image/", views.image, name="image"),
    path("predictions/<str:prediction_id>/saliency.png", views.saliency, name="saliency"),
    path("predictions/<str:prediction_id>/delete/", views.delete, name="delete"),
    path("accounts/data/", views.my_data, name="my-data"),
]
