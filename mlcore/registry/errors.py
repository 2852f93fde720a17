"""What the registry raises, and the one place that tells "MLflow is down" apart from "there is no such thing"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

# What MLflow answers for a version or alias that does not exist; every other failure means it is unreachable.
NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


class NoModel(LookupError):
    """No version is registered, or none carries the requested alias."""


class RegistryUnavailable(MlflowException):
    """The MLflow server or its artifact store cannot be reached; try again later."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=TEMPORARILY_UNAVAILABLE)


class ArtifactRefused(RuntimeError):
    """A model artifact does not match the checksum recorded when it was registered, or is not a kind we load."""


@contextmanager
def reachable(doing: str) -> Iterator[None]:
    """Turn MLflow's connection failures into ``RegistryUnavailable``; "not found" answers pass through."""
    try:
        yield
    except RegistryUnavailable:
        raise
    except MlflowException as error:
        if error.error_code in NOT_FOUND:
            raise
        raise RegistryUnavailable(f"MLflow cannot be reached ({doing}): {error.message[:300]}") from error
    except requests.exceptions.RequestException as error:
        raise RegistryUnavailable(f"MLflow cannot be reached ({doing}): {error}") from error
