"""The one shared torch engine behind every skmath estimator."""

from ._core import (
    CPU_BLOCK_BYTES,
    TorchEstimatorMixin,
    as_tensor,
    block_pool,
    block_rows,
    empty,
    make_generator,
    map_blocks,
    resolve_device,
    scratch,
    seed_from,
    single_threaded_torch,
    take_rows,
    thread_budget,
    to_numpy,
    torch_dtype,
    torch_threads,
)
from ._optim import SGD, Adam, minimize_lbfgs
from ._training import TrainResult, minibatches, train

__all__ = [
    "CPU_BLOCK_BYTES",
    "SGD",
    "Adam",
    "TorchEstimatorMixin",
    "TrainResult",
    "as_tensor",
    "block_pool",
    "block_rows",
    "empty",
    "make_generator",
    "map_blocks",
    "minimize_lbfgs",
    "minibatches",
    "resolve_device",
    "scratch",
    "seed_from",
    "single_threaded_torch",
    "take_rows",
    "thread_budget",
    "to_numpy",
    "torch_dtype",
    "torch_threads",
    "train",
]
