"""scikit-learn helpers that changed between the supported releases.

skmath supports scikit-learn >= 1.6; a few helpers it relies on changed since
then. ``_check_sample_weight`` gives every supported release the behaviour of
scikit-learn 1.9 (an estimator's input checks do not change with the
installed version); ``compute_class_weight`` follows the installed release,
as the sklearn estimators skmath is compared with do there (tested on 1.6
and 1.9).
"""

import inspect

import numpy as np
from sklearn.utils import class_weight as _class_weight
from sklearn.utils import validation as _validation

_ALL_ZERO = "Sample weights must contain at least one non-zero number."
_REFUSES_ALL_ZERO = (
    "allow_all_zero_weights" in inspect.signature(_validation._check_sample_weight).parameters
)
_WEIGHTED_CLASS_COUNTS = (
    "sample_weight" in inspect.signature(_class_weight.compute_class_weight).parameters
)


def _check_sample_weight(sample_weight, X, *, allow_all_zero_weights=False, **kwargs):
    """``sklearn.utils.validation._check_sample_weight``, refusing all-zero weights.

    Recent releases raise ``ValueError`` for all-zero weights (unless
    ``allow_all_zero_weights``); 1.6 let them through to a division by zero.

    Examples
    --------
    >>> _check_sample_weight(None, np.zeros((2, 1)))
    array([1., 1.])
    """
    if _REFUSES_ALL_ZERO:
        return _validation._check_sample_weight(
            sample_weight, X, allow_all_zero_weights=allow_all_zero_weights, **kwargs
        )
    sample_weight = _validation._check_sample_weight(sample_weight, X, **kwargs)
    if not allow_all_zero_weights and not np.any(sample_weight):
        raise ValueError(_ALL_ZERO)
    return sample_weight


def compute_class_weight(class_weight, *, classes, y, sample_weight=None):
    """``sklearn.utils.class_weight.compute_class_weight`` of the installed release.

    ``"balanced"`` counts classes by ``sample_weight`` where scikit-learn
    does (recent releases, whose estimators pass the weights), and by rows
    on 1.6, as that release's estimators do.

    Examples
    --------
    >>> compute_class_weight("balanced", classes=np.array([0, 1]), y=np.array([0, 0, 0, 1]))
    array([0.66666667, 2.        ])
    """
    if _WEIGHTED_CLASS_COUNTS:
        return _class_weight.compute_class_weight(
            class_weight, classes=classes, y=y, sample_weight=sample_weight
        )
    return _class_weight.compute_class_weight(class_weight, classes=classes, y=y)
