"""Neural networks: multi-layer perceptrons and Monte Carlo dropout."""

from ._mlp import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
