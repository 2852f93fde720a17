from django.urls import path

from predictions.consumers import ModelEventsConsumer

websocket_urlpatterns = [
    path("ws/models/", ModelEventsConsumer.as_asgi()),
]
