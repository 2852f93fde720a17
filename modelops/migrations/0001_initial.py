# Model operations became an app of their own; the tables keep their names and their rows.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('predictions', '0002_dashboard'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ModelChange',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('action', models.CharField(choices=[('promote', 'Promote'), ('rollback', 'Rollback'), ('bootstrap', 'Bootstrap'), ('train', 'Train'), ('learn', 'Learn'), ('undo', 'Undo')], max_length=16)),
                        ('version', models.CharField(max_length=32)),
                        ('previous_version', models.CharField(blank=True, max_length=32)),
                        ('reason', models.TextField(blank=True)),
                        ('created', models.DateTimeField(auto_now_add=True, db_index=True)),
                        ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'predictions_modelchange',
                        'ordering': ['-created', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='TrainingJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='queued', max_length=16)),
                        ('active_slot', models.CharField(blank=True, default='active', max_length=8, null=True, unique=True)),
                        ('options', models.JSONField(default=dict)),
                        ('progress', models.JSONField(default=dict)),
                        ('cancel_requested', models.BooleanField(default=False)),
                        ('result_version', models.CharField(blank=True, max_length=32)),
                        ('promoted', models.BooleanField(default=False)),
                        ('message', models.TextField(blank=True)),
                        ('created', models.DateTimeField(auto_now_add=True)),
                        ('updated', models.DateTimeField(auto_now=True)),
                        ('started', models.DateTimeField(blank=True, null=True)),
                        ('finished', models.DateTimeField(blank=True, null=True)),
                        ('started_by', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'predictions_trainingjob',
                        'ordering': ['-created', '-id'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('active_slot__isnull', True), ('status__in', ['queued', 'running']), _connector='OR'), name='training_job_active_slot_only_while_active')],
                    },
                ),
            ],
        ),
    ]
