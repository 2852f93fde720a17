"""``{{ prediction|image_url }}``: the photo's address, only ever rendered after the page's access check."""

from __future__ import annotations

from django import template

from predictions.models import Prediction
from predictions.selectors import prediction_image_url

register = template.Library()


@register.filter
def image_url(prediction: Prediction) -> str:
    return prediction_image_url(prediction)
