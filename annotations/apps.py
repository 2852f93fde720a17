from __future__ import annotations

import threading

from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Annotations"

    def ready(self) -> None:
        from celery.signals import worker_process_init

        # Imported here: they read models, which cannot be imported while the apps are loading.
        from annotations import receivers
        from predictions import signals

        worker_process_init.connect(_warm_up_celery_worker, weak=False, dispatch_uid="annotations-warm-up")
        signals.photos_deleting.connect(receivers.unlearn_deleted_photos, dispatch_uid="annotations.photos_deleting")
        signals.consent_withdrawn.connect(receivers.unlearn_unshared_photos, dispatch_uid="annotations.consent")
        signals.person_data_deleting.connect(receivers.delete_labels_of_person, dispatch_uid="annotations.person")


def _warm_up_celery_worker(**_: object) -> None:
    """Each Celery worker process warms online learning up as it starts, not on its first label."""
    # Imported here: the learning modules read models, which cannot be imported while apps are loading.
    from annotations.learning.warmup import warm_up

    # In a thread: worker_process_init must return within seconds, the warm-up takes several.
    threading.Thread(target=warm_up, name="infantino-learning-warm-up", daemon=True).start()
