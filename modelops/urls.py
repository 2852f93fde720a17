from django.urls import path

from modelops import views

app_name = "modelops"

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/versions/<str:version>/", views.version_detail, name="version"),
    path("dashboard/compare/", views.compare, name="compare"),
    path("dashboard/promote/", views.promote, name="promote"),
    path("dashboard/rollback/", views.rollback, name="rollback"),
    path("dashboard/retrain/", views.retrain_start, name="retrain"),
    path("dashboard/consolidate/", views.consolidate, name="consolidate"),
    path("dashboard/retrain/<int:job_id>/cancel/", views.retrain_cancel, name="retrain-cancel"),
]
