"""Blind mode: whether a person labels without seeing the model's guess."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from annotations.models import AnnotatorPreference, LabelingSettings


@dataclass(frozen=True)
class Blindness:
    project: bool  # the project hides the guess from everyone
    mine: bool  # this person hides it from themself

    @property
    def blind(self) -> bool:
        return self.project or self.mine


def labeling_settings() -> LabelingSettings:
    """The project's settings; the defaults (unsaved) until staff first change them."""
    return LabelingSettings.objects.filter(pk=1).first() or LabelingSettings(pk=1)


def blindness_for(user: AbstractBaseUser) -> Blindness:
    """Whether the project, or this person's own toggle, hides the model's guess from them."""
    mine = AnnotatorPreference.objects.filter(user_id=user.pk, blind=True).exists()
    return Blindness(project=labeling_settings().blind, mine=mine)
