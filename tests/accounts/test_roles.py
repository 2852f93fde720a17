"""Roles: anyone uploads, annotators label, adjudicators settle, staff administer; an inactive account has none."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.roles import roles_of, sees_all_images
from accounts.services import adjudicator_grant, annotator_grant

pytestmark = pytest.mark.django_db


def test_anyone_uploads_and_only_annotators_see_everyones_photos(django_user_model):
    parent = django_user_model.objects.create_user("parent")

    assert roles_of(AnonymousUser()) == ["uploader"]
    assert roles_of(parent) == ["uploader"]
    assert not sees_all_images(parent)


def test_joining_the_annotator_group_grants_labeling(django_user_model):
    nurse = django_user_model.objects.create_user("nurse")
    annotator_grant(user=nurse)

    assert roles_of(nurse) == ["uploader", "annotator"]
    assert sees_all_images(nurse)


def test_joining_the_adjudicator_group_grants_labeling_and_settling(django_user_model):
    lead_nurse = django_user_model.objects.create_user("lead-nurse")
    adjudicator_grant(user=lead_nurse)

    assert roles_of(lead_nurse) == ["uploader", "annotator", "adjudicator"]


def test_staff_administer_and_label(django_user_model):
    lead = django_user_model.objects.create_user("lead", is_staff=True)
    assert roles_of(lead) == ["uploader", "annotator", "adjudicator", "admin"]


def test_a_deactivated_account_keeps_no_role_but_uploader(django_user_model):
    former = django_user_model.objects.create_user("former", is_staff=True, is_active=False)
    annotator_grant(user=former)

    assert roles_of(former) == ["uploader"]
    assert not sees_all_images(former)
