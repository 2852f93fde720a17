from __future__ import annotations

from django.apps import AppConfig

from common import jobs


class ModelopsConfig(AppConfig):
    name = "modelops"
    verbose_name = "Model operations"

    def ready(self) -> None:
        from modelops import tasks

        # Retrains go to their own worker(s) (`-Q training`), and to a thread of their own in the embedded runner, so a
        # retrain of tens of minutes never delays a label.
        jobs.register(tasks.run_retrain, queue="training", own_lane=True)
