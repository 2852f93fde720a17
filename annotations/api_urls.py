from django.urls import path

from annotations import api

urlpatterns = [
    path("annotations/", api.AnnotationCreateApi.as_view(), name="api-annotation-create"),
    path("annotations/<int:annotation_id>/", api.AnnotationDetailApi.as_view(), name="api-annotation-detail"),
    path("queue/", api.QueueApi.as_view(), name="api-queue"),
    path("labeled-images/", api.LabeledImageCreateApi.as_view(), name="api-labeled-image-create"),
    path("agreement/", api.AgreementApi.as_view(), name="api-agreement"),
]
