"""Linear models: least squares and logistic regression."""

from ._linear import LinearRegression
from ._logistic import LogisticRegression

__all__ = ["LinearRegression", "LogisticRegression"]
