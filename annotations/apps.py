from __future__ import annotations

import threading

from django.apps import AppConfig
from django.conf import settings

from common import jobs

ONLINE = "online"  # the Celery queue of the single writer


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Annotations"

    def ready(self) -> None:
        from celery.signals import worker_process_init

        # Imported here: they read models, which cannot be imported while the apps are loading.
        from annotations import receivers, tasks
        from modelops.signals import consolidation_requested
        from predictions import signals

        worker_process_init.connect(_warm_up_celery_worker, weak=False, dispatch_uid="annotations-warm-up")
        consolidation_requested.connect(receivers.queue_consolidation, dispatch_uid="annotations.consolidation")
        signals.photos_deleting.connect(receivers.unlearn_deleted_photos, dispatch_uid="annotations.photos_deleting")
        signals.consent_withdrawn.connect(receivers.unlearn_unshared_photos, dispatch_uid="annotations.consent")
        signals.person_data_deleting.connect(receivers.delete_labels_of_person, dispatch_uid="annotations.person")
        # Online learning goes to one worker process (`-Q online --concurrency 1`): one writer, labels in order.
        for job in (tasks.learn, tasks.undo, tasks.unlearn, tasks.consolidate, tasks.warm_up):
            jobs.register(job, queue=ONLINE)
        # Every waiting label queued again: periodically, and at once as a worker starts (however recent), so the
        # labels a dead worker held are learned, not lost.
        jobs.register(
            tasks.learn_waiting,
            queue=ONLINE,
            every=lambda: settings.INFANTINO_RELEARN_AFTER_SECONDS,
            on_worker_start={"older_than": 0},
        )


def _warm_up_celery_worker(**_: object) -> None:
    """Each Celery worker process warms online learning up as it starts, not on its first label."""
    # Imported here: the learning modules read models, which cannot be imported while apps are loading.
    from annotations.learning.warmup import warm_up

    # In a thread: worker_process_init must return within seconds, the warm-up takes several.
    threading.Thread(target=warm_up, name="infantino-learning-warm-up", daemon=True).start()
