from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_adjudicator_group(apps, schema_editor):
    # Permissions are normally made after all migrations; the group needs the adjudication one now.
    annotations = apps.get_app_config("annotations")
    annotations.models_module = True
    create_permissions(annotations, apps=apps, verbosity=0)
    annotations.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="adjudicator")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="annotations", codename="add_adjudication")
    )


def remove_adjudicator_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="adjudicator").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_annotator_group"),
        ("annotations", "0002_labeling_workflow"),
    ]

    operations = [migrations.RunPython(create_adjudicator_group, remove_adjudicator_group)]
