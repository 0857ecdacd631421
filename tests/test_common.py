"""scikit-learn's own estimator checks over every public skmath estimator.

Nothing here is marked as an expected failure: each check must pass.
"""

import inspect

from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import skmath

# Smaller settings that keep the checks fast (as sklearn does for its own
# estimators in ``_test_common/instance_generator.py``); the math is unchanged.
CHECK_PARAMS = {
    "MLPClassifier": dict(max_iter=100),
    "MLPRegressor": dict(max_iter=100),
    "MCDropoutClassifier": dict(max_iter=100),
    "MCDropoutRegressor": dict(max_iter=100),
    "FlowMatchingSampler": dict(max_iter=20),
}


def _public_estimators():
    for name in sorted(skmath.__all__):
        obj = getattr(skmath, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            params = CHECK_PARAMS.get(name, {})
            if "device" in inspect.signature(obj).parameters:
                params = {"device": "cpu", **params}
            yield obj(**params)


ESTIMATORS = list(_public_estimators())


def test_every_public_estimator_is_checked():
    # The list above is built from skmath.__all__: at least the foundation's three.
    names = {type(est).__name__ for est in ESTIMATORS}
    assert {"LinearRegression"} <= names


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
