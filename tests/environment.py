"""Loaded with ``-p`` before Django's settings are read: the environment every test process starts with."""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("INFANTINO_WARM_START", "false")  # servers started by tests turn it on themselves
