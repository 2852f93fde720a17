from django.contrib.auth.management import create_permissions
from django.db import migrations

ANNOTATOR_PERMISSIONS = ("add_annotation", "view_annotation", "delete_annotation")


def create_annotator_group(apps, schema_editor):
    # Permissions are normally made after all migrations; the group needs the annotation ones now.
    annotations = apps.get_app_config("annotations")
    annotations.models_module = True
    create_permissions(annotations, apps=apps, verbosity=0)
    annotations.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="annotator")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="annotations", codename__in=ANNOTATOR_PERMISSIONS)
    )


def remove_annotator_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="annotator").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_annotator_group, remove_annotator_group)]
