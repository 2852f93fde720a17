# Consent: whether annotators may see a photo and the model may learn from it. Existing photos uploaded by
# the team (staff, or members of the annotator group) keep their place; every other photo starts without it,
# so its parent is asked again (My data) before anyone but them sees it.

from django.conf import settings
from django.db import migrations, models
from django.db.models import Q


def team_uploads_consent(apps, schema_editor):
    Prediction = apps.get_model("predictions", "Prediction")
    team = Q(uploaded_by__is_staff=True) | Q(uploaded_by__groups__name="annotator")
    Prediction.objects.filter(pk__in=Prediction.objects.filter(team).values("pk")).update(consent=True)


class Migration(migrations.Migration):

    dependencies = [
        ('predictions', '0003_model_operations_moved'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='prediction',
            name='consent',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(team_uploads_consent, migrations.RunPython.noop),
    ]
