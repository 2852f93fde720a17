from django.urls import path

from annotations import views

app_name = "annotations"

urlpatterns = [
    path("label/", views.queue, name="queue"),
    path("label/conflicts/", views.conflicts, name="conflicts"),
    path("label/annotators/", views.annotators, name="annotators"),
]
