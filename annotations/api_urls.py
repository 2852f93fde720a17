from django.urls import path

from annotations import api, api_effect, api_io, api_labeling, api_review

urlpatterns = [
    path("annotations/", api.AnnotationCreateApi.as_view(), name="api-annotation-create"),
    path("annotations/<int:annotation_id>/", api.AnnotationDetailApi.as_view(), name="api-annotation-detail"),
    path("queue/", api.QueueApi.as_view(), name="api-queue"),
    path("queue/progress/", api_labeling.ProgressApi.as_view(), name="api-queue-progress"),
    path("queue/effect/", api_effect.EffectApi.as_view(), name="api-queue-effect"),
    path("queue/skips/", api_labeling.SkipsApi.as_view(), name="api-queue-skips"),
    path("queue/unusable/", api_labeling.UnusableApi.as_view(), name="api-queue-unusable"),
    path("queue/unusable/<str:image_id>/", api_labeling.UnusableUndoApi.as_view(), name="api-queue-unusable-undo"),
    path("queue/blind/", api_labeling.BlindnessApi.as_view(), name="api-queue-blind"),
    path("conflicts/", api_review.ConflictsApi.as_view(), name="api-conflicts"),
    path("adjudications/", api_review.AdjudicationCreateApi.as_view(), name="api-adjudication-create"),
    path("annotators/", api_review.AnnotatorStatsApi.as_view(), name="api-annotators"),
    path("labeled-images/", api.LabeledImageCreateApi.as_view(), name="api-labeled-image-create"),
    path("agreement/", api.AgreementApi.as_view(), name="api-agreement"),
    path("imports/", api_io.ImportApi.as_view(), name="api-imports"),
    path("export/", api_io.ExportApi.as_view(), name="api-export"),
]
