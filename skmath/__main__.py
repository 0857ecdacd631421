"""The tour: ``python -m skmath``.

Runs every skmath estimator on one of scikit-learn's bundled real datasets,
inside a Pipeline or a GridSearchCV, next to the model a scikit-learn user would
reach for, and prints one table row per estimator: held-out score of each, fit
time of each, and the device skmath ran on.
"""

import sys
import time
import warnings

from sklearn import datasets
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmath
from skmath._engine import resolve_device

DEVICE = str(resolve_device("auto"))


def _split(loader, random_state=0):
    X, y = loader(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=random_state)


def _timed_fit(model, *args):
    start = time.perf_counter()
    model.fit(*args)
    return model, time.perf_counter() - start


def _compare(ours, theirs, split, metric="score"):
    X_train, X_test, y_train, y_test = split
    ours, t_ours = _timed_fit(ours, X_train, y_train)
    theirs, t_theirs = _timed_fit(theirs, X_train, y_train)
    return ours.score(X_test, y_test), theirs.score(X_test, y_test), t_ours, t_theirs


def tour_linear_regression():
    from sklearn.linear_model import LinearRegression

    split = _split(datasets.load_diabetes)
    ours = make_pipeline(StandardScaler(), skmath.LinearRegression())
    theirs = make_pipeline(StandardScaler(), LinearRegression())
    return ("LinearRegression", "diabetes", "R2", "LinearRegression", *_compare(ours, theirs, split))


def tour_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    split = _split(datasets.load_breast_cancer)
    grid = {"logisticregression__C": [0.01, 0.1, 1.0, 10.0]}
    ours = GridSearchCV(make_pipeline(StandardScaler(), skmath.LogisticRegression()), grid)
    theirs = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()), grid)
    return ("LogisticRegression", "breast_cancer", "accuracy", "LogisticRegression",
            *_compare(ours, theirs, split))


def tour_kmeans():
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    X, y = datasets.load_wine(return_X_y=True)
    ours, t_ours = _timed_fit(
        make_pipeline(StandardScaler(), skmath.KMeans(3, n_init=10, random_state=0)), X
    )
    theirs, t_theirs = _timed_fit(
        make_pipeline(StandardScaler(), KMeans(3, n_init=10, random_state=0)), X
    )
    return ("KMeans", "wine", "ARI vs classes", "KMeans",
            adjusted_rand_score(y, ours[-1].labels_), adjusted_rand_score(y, theirs[-1].labels_),
            t_ours, t_theirs)


def tour_mlp_classifier():
    from sklearn.neural_network import MLPClassifier

    split = _split(datasets.load_digits)
    kw = dict(hidden_layer_sizes=(128,), max_iter=60, random_state=0)
    ours = make_pipeline(StandardScaler(), skmath.MLPClassifier(**kw))
    theirs = make_pipeline(StandardScaler(), MLPClassifier(**kw))
    return ("MLPClassifier", "digits", "accuracy", "MLPClassifier", *_compare(ours, theirs, split))


def tour_mlp_regressor():
    from sklearn.neural_network import MLPRegressor

    split = _split(datasets.load_diabetes)
    kw = dict(hidden_layer_sizes=(64,), learning_rate_init=0.01, max_iter=300, random_state=0)
    ours = make_pipeline(StandardScaler(), skmath.MLPRegressor(**kw))
    theirs = make_pipeline(StandardScaler(), MLPRegressor(**kw))
    return ("MLPRegressor", "diabetes", "R2", "MLPRegressor", *_compare(ours, theirs, split))


def tour_mc_dropout_regressor():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, WhiteKernel

    from skmath.metrics import gaussian_nll

    X_train, X_test, y_train, y_test = _split(datasets.load_diabetes)
    ours = make_pipeline(StandardScaler(), skmath.MCDropoutRegressor(random_state=0))
    theirs = make_pipeline(
        StandardScaler(),
        GaussianProcessRegressor(RBF(5.0) + WhiteKernel(), normalize_y=True, random_state=0),
    )
    ours, t_ours = _timed_fit(ours, X_train, y_train)
    theirs, t_theirs = _timed_fit(theirs, X_train, y_train)
    scores = [-gaussian_nll(y_test, *m.predict(X_test, return_std=True)) for m in (ours, theirs)]
    return ("MCDropoutRegressor", "diabetes", "test log-lik", "GaussianProcessRegressor",
            *scores, t_ours, t_theirs)


def tour_mc_dropout_classifier():
    from sklearn.linear_model import LogisticRegression

    split = _split(datasets.load_breast_cancer)
    ours = make_pipeline(StandardScaler(), skmath.MCDropoutClassifier(random_state=0))
    theirs = make_pipeline(StandardScaler(), LogisticRegression())
    return ("MCDropoutClassifier", "breast_cancer", "accuracy", "LogisticRegression",
            *_compare(ours, theirs, split))


def tour_ntk_regressor():
    from sklearn.kernel_ridge import KernelRidge

    split = _split(datasets.load_diabetes)
    ours = GridSearchCV(
        make_pipeline(StandardScaler(), skmath.NTKRegressor()),
        {"ntkregressor__depth": [1, 2, 3], "ntkregressor__alpha": [0.1, 1.0, 10.0]},
    )
    theirs = GridSearchCV(
        make_pipeline(StandardScaler(), KernelRidge(kernel="rbf")),
        {"kernelridge__alpha": [0.01, 0.1, 1.0], "kernelridge__gamma": [0.01, 0.03, 0.1]},
    )
    return ("NTKRegressor", "diabetes", "R2", "KernelRidge(rbf)", *_compare(ours, theirs, split))


def tour_ntk_kernel():
    from sklearn.svm import SVC

    split = _split(datasets.load_breast_cancer)
    ours = make_pipeline(StandardScaler(), SVC(kernel=skmath.NTKKernel(depth=2)))
    theirs = make_pipeline(StandardScaler(), SVC(kernel="rbf"))
    return ("NTKKernel (in SVC)", "breast_cancer", "accuracy", "SVC(rbf)", *_compare(ours, theirs, split))


def tour_flow_matching():
    from sklearn.mixture import GaussianMixture

    X, _ = datasets.load_iris(return_X_y=True)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    ours = make_pipeline(StandardScaler(), skmath.FlowMatchingSampler(random_state=0))
    theirs = GridSearchCV(
        make_pipeline(StandardScaler(), GaussianMixture(random_state=0)),
        {"gaussianmixture__n_components": [1, 2, 3, 4]},
    )
    ours, t_ours = _timed_fit(ours, X_train)
    theirs, t_theirs = _timed_fit(theirs, X_train)
    # Pipeline.score on a density model: mean log-likelihood in standardised units.
    return ("FlowMatchingSampler", "iris", "test log-lik", "GaussianMixture",
            ours.score(X_test), theirs.score(X_test), t_ours, t_theirs)


TOUR = [
    ("LinearRegression", tour_linear_regression),
    ("LogisticRegression", tour_logistic_regression),
    ("KMeans", tour_kmeans),
    ("MLPClassifier", tour_mlp_classifier),
    ("MLPRegressor", tour_mlp_regressor),
    ("MCDropoutRegressor", tour_mc_dropout_regressor),
    ("MCDropoutClassifier", tour_mc_dropout_classifier),
    ("NTKRegressor", tour_ntk_regressor),
    ("NTKKernel", tour_ntk_kernel),
    ("FlowMatchingSampler", tour_flow_matching),
]


def main():
    print(f"skmath {skmath.__version__} tour: each estimator on a scikit-learn bundled "
          f"dataset (held-out 25%; KMeans: all rows), next to its scikit-learn counterpart. Device: {DEVICE}\n")
    header = (f"{'estimator':21s} {'dataset':14s} {'metric':15s} {'skmath':>8s} "
              f"{'sklearn':>8s}  {'fit s':>6s} {'sk fit s':>8s}  {'device':6s} compared with")
    print(header)
    print("-" * len(header))
    failures = 0
    for name, run in TOUR:
        if not hasattr(skmath, name):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est, data, metric, peer, ours, theirs, t_ours, t_theirs = run()
        except Exception as exc:  # report and carry on: the tour shows everything
            failures += 1
            print(f"{name:21s} FAILED: {type(exc).__name__}: {exc}")
            continue
        print(f"{est:21s} {data:14s} {metric:15s} {ours:8.3f} {theirs:8.3f}  "
              f"{t_ours:6.2f} {t_theirs:8.2f}  {DEVICE:6s} {peer}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
