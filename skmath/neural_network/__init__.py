"""Neural networks: multi-layer perceptrons and Monte Carlo dropout."""

from ._mc_dropout import MCDropoutClassifier, MCDropoutRegressor
from ._mlp import MLPClassifier, MLPRegressor

__all__ = ["MCDropoutClassifier", "MCDropoutRegressor", "MLPClassifier", "MLPRegressor"]
