from django.urls import path

from modelops.consumers import ModelEventsConsumer, TrainingConsumer

websocket_urlpatterns = [
    path("ws/models/", ModelEventsConsumer.as_asgi()),
    path("ws/training/", TrainingConsumer.as_asgi()),
]
