"""Infinite-width neural networks: NTK and NNGP kernels, and regression with them."""

from ._kernel import NTKKernel
from ._regressor import NTKRegressor

__all__ = ["NTKKernel", "NTKRegressor"]
