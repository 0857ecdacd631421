"""skmath: scikit-learn-compatible estimators whose math runs in PyTorch."""

from .cluster import KMeans
from .flow import FlowMatchingSampler
from .linear_model import LinearRegression, LogisticRegression
from . import metrics  # noqa: F401  (skmath.metrics, a public subpackage)
from .neural_network import MCDropoutClassifier, MCDropoutRegressor, MLPClassifier, MLPRegressor
from .ntk import NTKKernel, NTKRegressor

__version__ = "0.1.0"

__all__ = [
    "FlowMatchingSampler",
    "KMeans",
    "LinearRegression",
    "LogisticRegression",
    "MCDropoutClassifier",
    "MCDropoutRegressor",
    "MLPClassifier",
    "MLPRegressor",
    "NTKKernel",
    "NTKRegressor",
    "__version__",
]
