"""Linear models: least squares and logistic regression."""

from ._linear import LinearRegression


__all__ = ["LinearRegression", "LogisticRegression"]
