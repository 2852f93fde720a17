# ModelChange and TrainingJob now belong to the modelops app (same tables, see modelops 0001).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('predictions', '0002_dashboard'),
        ('modelops', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='ModelChange'),
                migrations.DeleteModel(name='TrainingJob'),
            ],
        ),
    ]
