# A new audit action, "consolidate"; choices live in Python only, so the database does not change.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('modelops', '0002_modelchange_unlearn'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='modelchange',
                    name='action',
                    field=models.CharField(choices=[('promote', 'Promote'), ('rollback', 'Rollback'), ('bootstrap', 'Bootstrap'), ('train', 'Train'), ('learn', 'Learn'), ('undo', 'Undo'), ('unlearn', 'Unlearn'), ('consolidate', 'Consolidate')], max_length=16),
                ),
            ],
        ),
    ]
