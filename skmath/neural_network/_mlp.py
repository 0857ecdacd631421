"""Multi-layer perceptrons in torch: drop-in for scikit-learn's MLPClassifier/MLPRegressor."""

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d, validate_data

from .._engine import as_tensor, unchanged_on_failure
from ._base import _STOCHASTIC_SOLVERS, _BaseMLP

_COMMON_PARAMETERS = """hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers.
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        ``"adam"`` and ``"sgd"`` (with momentum) run minibatch epochs in the
        shared training loop; ``"lbfgs"`` is scipy's L-BFGS-B on the full
        batch, with loss and gradient from torch.
    alpha : float, default=0.0001
        Strength of the L2 penalty, divided by the (weighted) number of
        samples of the batch as in scikit-learn.
    batch_size : int or "auto", default="auto"
        Minibatch size; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Schedule of ``solver="sgd"``: constant, ``learning_rate_init / (t + 1) **
        power_t`` after each epoch (``t`` samples seen), or divided by 5 each
        time ``n_iter_no_change`` epochs fail to improve by ``tol``.
    learning_rate_init : float, default=0.001
        Initial learning rate (``"sgd"``, ``"adam"``).
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs (``"sgd"``, ``"adam"``) or of iterations
        (``"lbfgs"``).
    shuffle : bool, default=True
        Whether to draw the minibatches in a new random order each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the minibatch order (drawn with a local
        :class:`torch.Generator`) and the early-stopping split (drawn by
        :func:`~sklearn.model_selection.train_test_split` from a NumPy
        ``RandomState``, never the global one).
        Pass an int for bit-for-bit reproducible fits on CPU.
    tol : float, default=1e-4
        Training stops when the loss (or validation score) has not improved by
        ``tol`` for ``n_iter_no_change`` consecutive epochs; for ``"lbfgs"`` it
        is the projected-gradient tolerance.
    verbose : bool, default=False
        Print scikit-learn's progress lines to stdout (``Iteration i, loss =
        ...`` each epoch, the validation score, the stopping message) above a
        ``tqdm`` progress bar (on stderr); with ``"lbfgs"``, the bar only.
    warm_start : bool, default=False
        Start from the previous solution instead of a fresh initialisation.
        The network must be the same (layer sizes, outputs): where
        ``hidden_layer_sizes`` or the number of outputs changed, ``fit`` (and
        ``partial_fit``) raise a ``ValueError``; scikit-learn keeps the old
        weights silently, or fails with an unrelated ``IndexError``,
        ``AttributeError`` or ``ValueError``.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum (``solver="sgd"``, ``momentum > 0``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for binary
        targets), stop when its score has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the weights of the best epoch.
        With ``warm_start``, an epoch counts as best only if it beats the
        earlier fits' ``best_validation_score_``; when none does, the last
        epoch's weights are kept (as in scikit-learn).
    validation_fraction : float, default=0.1
        Fraction held out for early stopping.
    beta_1 : float, default=0.9
        Decay rate of Adam's first-moment estimates.
    beta_2 : float, default=0.999
        Decay rate of Adam's second-moment estimates.
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping (or, with
        ``learning_rate="adaptive"``, lowering the learning rate).
    max_fun : int, default=15000
        Maximum number of loss evaluations of ``"lbfgs"``.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``."""

def _attributes_doc(*, lbfgs=True, validated=""):
    """The perceptrons' Attributes section; ``lbfgs``: whether the estimator
    has that solver, ``validated``: what the validation scores measure."""
    unset = ' Not set with ``solver="lbfgs"`` (as in scikit-learn).' if lbfgs else ""
    n_iter = 'Epochs (iterations for ``"lbfgs"``)' if lbfgs else "Epochs"
    return f"""loss_ : float
        Loss (data term plus L2 penalty) of the last epoch.
    best_loss_ : float or None
        Lowest epoch loss; ``None`` with ``early_stopping=True``.{unset}
    loss_curve_ : list of float
        Loss of each epoch (stochastic solvers).
    validation_scores_ : list of float or None
        Validation score of each epoch with ``early_stopping=True``{validated}.{unset}
    best_validation_score_ : float or None
        Best validation score with ``early_stopping=True``.{unset}
    t_ : int
        Number of training samples seen by the solver.
    coefs_ : list of ndarray of shape (n_units_in, n_units_out)
        Weight matrices; ``coefs_[i]`` maps layer ``i`` to layer ``i + 1``.
    intercepts_ : list of ndarray of shape (n_units_out,)
        Bias vectors of layers ``1 ... n_layers_ - 1``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.
    n_iter_ : int
        {n_iter} run by the last call.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        Output activation."""


_COMMON_ATTRIBUTES = _attributes_doc()

_NOTES = """The network, its initialisation (Glorot uniform with scikit-learn's factor),
    the loss (scikit-learn's, penalty included, so ``loss_curve_`` values are
    comparable) and the stopping rule are scikit-learn's; the arithmetic is
    torch's, on CPU or GPU, with the data kept on the device for the whole
    fit. As in scikit-learn, float32 input is fitted in float32 (faster,
    especially on GPU) and anything else in float64; with ``solver="lbfgs"``
    too, where scikit-learn's ``coefs_`` come back float64 from SciPy's
    optimizer (skmath's stay float32, and so do its predictions). The
    fitted ``coefs_`` and
    ``intercepts_`` are NumPy arrays: a model fitted on a GPU pickles and
    predicts on a CPU-only machine.

    A diverging fit (NaN or infinite loss) raises an error that is both a
    ``FloatingPointError`` and a ``ValueError`` (scikit-learn raises
    ``ValueError``) instead of leaving NaN weights, and leaves the estimator
    as it was; with ``early_stopping``, once an epoch has been validated,
    the fit stops with the best validation epoch's weights and a
    ``ConvergenceWarning`` instead. As in scikit-learn, a ``KeyboardInterrupt`` (Ctrl-C) during a
    ``"sgd"`` or ``"adam"`` fit stops it with the warning "Training
    interrupted by user." and keeps the model of the epochs completed (with
    ``early_stopping``, the best of them).
    Sparse ``X`` (any SciPy format, converted to CSR) stays sparse on the
    device: minibatches are gathered as sparse rows and the first layer's
    products are sparse-dense, as scikit-learn's ``safe_sparse_dot``."""


def _check_solver(est):
    if est.solver not in _STOCHASTIC_SOLVERS:
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {est.solver} "
            "is not stochastic."
        )
    return True


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = f"""Multi-layer perceptron classifier trained in PyTorch.

    Drop-in for :class:`sklearn.neural_network.MLPClassifier`: the same
    parameters, loss, stopping rule and fitted attributes, plus ``device``.
    Binary, multiclass (softmax) and multi-label (one sigmoid per label)
    targets.

    Parameters
    ----------
    {_COMMON_PARAMETERS}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    {_COMMON_ATTRIBUTES}

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The scikit-learn original.
    MCDropoutClassifier : The same network with Monte Carlo dropout.

    Notes
    -----
    {_NOTES}

    Unlike scikit-learn's, ``fit`` refuses a ``y`` with a single class (a
    ``ValueError``, as :class:`LogisticRegression`'s), where scikit-learn's
    fits one output unit and ``predict_proba`` returns two columns for its
    one class. ``partial_fit`` accepts such a ``y`` when ``classes`` has two
    or more.

    References
    ----------
    Glorot, X. and Bengio, Y. (2010). Understanding the difficulty of training
    deep feedforward neural networks. AISTATS.

    Kingma, D. P. and Ba, J. (2015). Adam: A method for stochastic
    optimization. ICLR. :arxiv:`1412.6980`

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.model_selection import train_test_split
    >>> from skmath import MLPClassifier
    >>> X, y = make_classification(n_samples=100, random_state=1)
    >>> X_train, X_test, y_train, y_test = train_test_split(
    ...     X, y, stratify=y, random_state=1)
    >>> clf = MLPClassifier(random_state=1, max_iter=300, device="cpu")
    >>> clf = clf.fit(X_train, y_train)
    >>> clf.predict_proba(X_test[:1]).shape
    (1, 2)
    >>> clf.predict(X_test[:5]).shape
    (5,)
    >>> clf.score(X_test, y_test) > 0.8
    True
    """

    _accept_sparse = "csr"

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        device="auto",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=self._accept_sparse,
            multi_output=True,
            dtype=[np.float64, np.float32],
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        # The same matrix of cases as scikit-learn's MLPClassifier: (re)define
        # the classes on a fresh fit, check them on warm_start / partial_fit.
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as "
                        f"in the previous call to fit. Previously got {self.classes_}, "
                        f"`y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {classes}."
                )
        if self._label_binarizer.y_type_ != "multilabel-indicator" and len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {self.classes_[0]!r}."
            )
        return X, self._label_binarizer.transform(y).astype(X.dtype, copy=False)

    def _targets(self, y2d, device, dtype):
        if self.out_activation_ == "softmax":
            return torch.from_numpy(np.ascontiguousarray(y2d.argmax(1))).to(device)
        return as_tensor(y2d, device, dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data ``X`` and labels ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels, or a label indicator matrix (multi-label).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights: the loss is the weighted mean. As in scikit-learn,
            their sign is not checked (negative weights are accepted). A
            minibatch whose weights sum to zero adds no loss and no gradient
            (scikit-learn raises ``ZeroDivisionError`` there).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    @unchanged_on_failure  # the first call's classes_ too
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights (negative ones accepted, as in :meth:`fit`).
        classes : array-like of shape (n_classes,), default=None
            All the classes, required on the first call (``y`` need not
            contain all of them).

        Returns
        -------
        self : object
            Updated estimator.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _probabilities(self, X):
        proba = self._raw_output(self._validate_predict_X(X))
        if proba.shape[1] == 1:
            return np.hstack([1 - proba, proba])
        return proba

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted labels (an indicator matrix for multi-label).
        """
        proba = self._raw_output(self._validate_predict_X(X))
        if self.n_outputs_ == 1:
            proba = proba.ravel()
        return self._label_binarizer.inverse_transform(proba)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities in the order of ``classes_`` (for multi-label,
            the probability of each label).
        """
        return self._probabilities(X)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = f"""Multi-layer perceptron regressor trained in PyTorch.

    Drop-in for :class:`sklearn.neural_network.MLPRegressor`: the same
    parameters, loss, stopping rule and fitted attributes, plus ``device``.
    Single- and multi-output targets.

    Parameters
    ----------
    loss : {{"squared_error", "poisson"}}, default="squared_error"
        Half squared error, or half Poisson deviance with a log link (an
        exponential output activation; ``y`` must be non-negative).
    {_COMMON_PARAMETERS}

    Attributes
    ----------
    {_COMMON_ATTRIBUTES}

    See Also
    --------
    sklearn.neural_network.MLPRegressor : The scikit-learn original.
    MCDropoutRegressor : The same network with predictive uncertainty.

    Notes
    -----
    {_NOTES}

    **Multi-output squared error differs from scikit-learn's training.** With
    ``loss="squared_error"`` and ``n_outputs`` > 1 targets, both libraries
    report the same loss, half the squared error *averaged* over the outputs
    (plus the penalty), and skmath trains on that loss's gradient. The
    gradient of scikit-learn's backpropagation lacks the ``1 / n_outputs``
    factor of the average: its data gradient is ``n_outputs`` times larger,
    while its penalty gradient ``alpha W / n`` is the same. So, from the same
    start, the fitted models differ: ``"sgd"`` here steps ``n_outputs`` times
    shorter on the data term, and under ``"adam"`` (invariant to the gradient's
    scale) and ``"lbfgs"`` the penalty weighs ``n_outputs`` times more against
    the data than in scikit-learn. To train as scikit-learn does with
    ``"adam"`` or ``"sgd"``, pass ``alpha / n_outputs`` (and, for ``"sgd"``,
    ``learning_rate_init * n_outputs``; for ``"adam"``, ``epsilon / n_outputs``,
    as its update is scale-invariant only up to ``epsilon``): the updates are
    then scikit-learn's,
    though the reported ``loss_curve_`` (and with it the ``tol`` stopping
    rule) still uses the averaged loss with your ``alpha``. Not for
    ``"lbfgs"``: its line search and stopping test read the loss value,
    which in scikit-learn does not match its gradient, so the two runs part
    after a few iterations whatever ``alpha`` (measured, 3 outputs: 104
    against 186 iterations, predictions 0.012 apart). One output, and ``loss="poisson"``
    (summed over outputs in both libraries), are not affected.

    References
    ----------
    Glorot, X. and Bengio, Y. (2010). Understanding the difficulty of training
    deep feedforward neural networks. AISTATS.

    Kingma, D. P. and Ba, J. (2015). Adam: A method for stochastic
    optimization. ICLR. :arxiv:`1412.6980`

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.model_selection import train_test_split
    >>> from skmath import MLPRegressor
    >>> X, y = make_regression(n_samples=200, n_features=20, random_state=1)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=1)
    >>> regr = MLPRegressor(random_state=1, max_iter=2000, tol=0.1, device="cpu")
    >>> regr = regr.fit(X_train, y_train)
    >>> regr.predict(X_test[:2]).shape
    (2,)
    >>> regr.score(X_test, y_test) > 0.9
    True
    """

    _accept_sparse = "csr"

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        device="auto",
    ):
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device

    # A column-vector y warns, as sklearn's MLPRegressor (the MC-dropout regressor,
    # which borrows _validate_input, follows GaussianProcessRegressor: no warning).
    _warn_on_column_y = True

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=self._accept_sparse,
            multi_output=True,
            y_numeric=True,
            dtype=[np.float64, np.float32],
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            # sklearn's MLPRegressor warns; GaussianProcessRegressor, which
            # the MC-dropout regressor follows, takes a column as one output.
            y = column_or_1d(y, warn=self._warn_on_column_y)
        if getattr(self, "loss", None) == "poisson" and np.any(y < 0):
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson regression."
            )
        return X, y.astype(X.dtype, copy=False)

    def _targets(self, y2d, device, dtype):
        return as_tensor(y2d, device, dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data ``X`` and targets ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights: the loss is the weighted mean. As in scikit-learn,
            their sign is not checked (negative weights are accepted). A
            minibatch whose weights sum to zero adds no loss and no gradient
            (scikit-learn raises ``ZeroDivisionError`` there).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(_check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights (negative ones accepted, as in :meth:`fit`).

        Returns
        -------
        self : object
            Updated estimator.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predict with the perceptron.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted values.
        """
        y = self._raw_output(self._validate_predict_X(X))
        return y.ravel() if y.shape[1] == 1 else y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # The Poisson deviance needs y >= 0 (negative targets are refused).
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags
