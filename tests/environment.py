"""Loaded with ``-p`` before Django's settings are read: the environment every test process starts with."""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("INFANTINO_WARM_START", "false")  # servers started by tests turn it on themselves
os.environ.setdefault("INFANTINO_THROTTLE", "false")  # tests/security/test_throttling.py turns it on
os.environ.setdefault("INFANTINO_HTTPS", "false")  # production-profile servers in tests speak plain http on loopback
os.environ.setdefault("INFANTINO_ENV_FILE", os.devnull)  # a developer's .env never reaches the tests' processes
os.environ.setdefault("INFANTINO_AUTOTRAIN", "false")  # no test server trains by itself; test_autotrain turns it on
os.environ.setdefault("INFANTINO_RETRAIN_EVERY", "0")  # labels retrain nothing; test_retrain_after_labels turns it on
# One torch/OpenMP thread per test process (tests that are about threads set their own): on two cores a second thread
# only spins against the other xdist worker and the servers the tests start, and a tiny bootstrap crawled for minutes.
for _threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")
