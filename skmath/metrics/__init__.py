"""Metrics of predictive uncertainty, and scorers for model selection."""

from ._uncertainty import (
    UncertaintyScorer,
    coverage_scorer,
    crps_gaussian,
    gaussian_nll,
    interval_coverage,
    make_uncertainty_scorer,
    neg_crps_scorer,
    neg_gaussian_nll_scorer,
)

__all__ = [
    "UncertaintyScorer",
    "coverage_scorer",
    "crps_gaussian",
    "gaussian_nll",
    "interval_coverage",
    "make_uncertainty_scorer",
    "neg_crps_scorer",
    "neg_gaussian_nll_scorer",
]
