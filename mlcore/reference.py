"""Embeddings that travel with an extractor: each domain's validation set and a replay pool.

Online updates replay from the pool so the head does not forget, and the forgetting guard scores
every candidate head on the validation sets of both domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

REFERENCE_FILE = "reference.npz"


@dataclass(frozen=True)
class ReferenceData:
    val_x: dict[str, np.ndarray]  # domain name ("infant", "fer") → n × 64 embeddings
    val_y: dict[str, np.ndarray]
    replay_x: np.ndarray
    replay_y: np.ndarray
    replay_domain: np.ndarray  # domain name per replay row

    @property
    def domains(self) -> list[str]:
        return sorted(self.val_x)

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {
            "replay_x": self.replay_x.astype(np.float32),
            "replay_y": self.replay_y.astype(np.int64),
            "replay_domain": self.replay_domain.astype(str),
        }
        for domain in self.val_x:
            arrays[f"val_x__{domain}"] = self.val_x[domain].astype(np.float32)
            arrays[f"val_y__{domain}"] = self.val_y[domain].astype(np.int64)
        np.savez_compressed(path, **cast(dict[str, Any], arrays))

    @classmethod
    def load(cls, path: Path) -> ReferenceData:
        with np.load(path, allow_pickle=False) as data:
            domains = [key.split("__", 1)[1] for key in data.files if key.startswith("val_x__")]
            return cls(
                val_x={d: data[f"val_x__{d}"] for d in domains},
                val_y={d: data[f"val_y__{d}"] for d in domains},
                replay_x=data["replay_x"],
                replay_y=data["replay_y"],
                replay_domain=data["replay_domain"],
            )
