"""Density estimation with continuous normalising flows fit by flow matching."""

from ._flow_matching import FlowMatchingSampler

__all__ = ["FlowMatchingSampler"]
