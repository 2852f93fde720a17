"""Weight averaging of the infant fine-tune (SWA): the served extractor is the mean of its last epochs' weights.

The fine-tune ends on a small, noisy set (a few hundred photos, strong augmentation), where the last epoch's
weights are one draw among many nearby; their mean sits in a flatter place. Floating-point buffers (batch-norm
statistics) are averaged with the weights; the running sum travels in the checkpoint, so a resumed run averages
the same epochs an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

from torch import nn

COUNT = "count"


def accumulate(average: dict[str, Any], networks: dict[str, nn.Module]) -> None:
    """Add the networks' current floating-point weights and buffers to the running sum in ``average``."""
    for name, network in networks.items():
        state = average.setdefault(name, {})
        for key, value in network.state_dict().items():
            if value.is_floating_point():
                state[key] = state[key] + value.detach() if key in state else value.detach().clone()
    average[COUNT] = average.get(COUNT, 0) + 1


def apply(average: dict[str, Any], networks: dict[str, nn.Module]) -> None:
    """Load the mean of the accumulated weights into the networks (integer buffers keep their last value)."""
    count = average.get(COUNT, 0)
    if not count:
        return
    for name, network in networks.items():
        current = network.state_dict()
        current.update({key: total / count for key, total in average[name].items()})
        network.load_state_dict(current)


def should_average(epoch: int, *, epochs: int, last: int) -> bool:
    """Whether the weights after (0-based) ``epoch`` are among the last ``last`` of ``epochs`` that are averaged."""
    return last > 0 and epoch >= epochs - last
