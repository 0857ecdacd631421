"""The one shared torch engine behind every skmath estimator."""

from ._core import (
    TorchEstimatorMixin,
    as_tensor,
    make_generator,
    resolve_device,
    seed_from,
    thread_budget,
    to_numpy,
    torch_dtype,
    torch_threads,
)
from ._training import TrainResult, minibatches, train

__all__ = [
    "TorchEstimatorMixin",
    "TrainResult",
    "as_tensor",
    "make_generator",
    "minibatches",
    "resolve_device",
    "seed_from",
    "thread_budget",
    "to_numpy",
    "torch_dtype",
    "torch_threads",
    "train",
]
