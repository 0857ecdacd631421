"""Density estimation with a continuous normalising flow trained by flow matching."""

import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    DensityMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from .._callbacks import CallbackSupportMixin, FitTasks
from .._engine import (
    Adam,
    TorchEstimatorMixin,
    TrainResult,
    as_tensor,
    linear,
    make_generator,
    seed_from,
    to_numpy,
    torch_threads,
    train,
    unchanged_on_failure,
)
from ._cfm import (
    OT_BLOCK_SIZE,
    cfm_loss,
    conditional_path,
    conditional_vector_field,
    ot_pairing,
)
from ._ode import SOLVERS, odeint, odeint_logdet

# Frequencies (in cycles over t in [0, 1]) of the sinusoidal time embedding.
_TIME_FREQUENCIES = (1.0, 2.0, 4.0, 8.0)
# Rows x bytes budget of one block: each hidden unit of each row keeps a few
# float64 activations and gradients alive per feature during the divergence.
_BYTES_PER_UNIT = 8 * 6
_LOG_2PI = math.log(2 * math.pi)
# Parameters read after fit, by the ODE solves: validated on every use.
_EVALUATION_PARAMETERS = ("solver", "n_steps", "solver_tol", "divergence")

# Standardised (or latent) coordinates beyond this are infinitely far from the
# model: their squares overflow float64, and so does the network's Fourier
# projection a little further out (sin(inf) is NaN).
_FAR = math.sqrt(np.finfo(np.float64).max)


def _far_rows(Xs):
    """Rows with a coordinate beyond ``_FAR`` (or not finite) in standardised units."""
    with np.errstate(invalid="ignore"):
        return ~(np.abs(Xs) <= _FAR).all(axis=1)


def _check_in_range(Xs, what):
    """A clear error for rows the flow cannot carry (see ``_FAR``)."""
    far = _far_rows(Xs)
    if far.any():
        raise ValueError(
            f"{what} has {int(far.sum())} row(s) beyond {_FAR:.1e} in standardised "
            "units, where the flow overflows float64 (their log-density, "
            "score_samples, is -inf). Rescale X or leave those rows out."
        )


def _linear(n_in, n_out, generator, device):
    """``nn.Linear`` with torch's default init, drawn from ``generator``.

    The layer is built on the meta device (no memory, no draw from the global
    RNG) and given parameters filled as
    :meth:`torch.nn.Linear.reset_parameters` would, but seeded. (Not
    :func:`torch.nn.utils.skip_init`: its first call imports sympy, 0.5 s.)
    """
    layer = torch.nn.Linear(n_in, n_out, device="meta")
    bound = 1.0 / math.sqrt(n_in)
    draw = dict(device=device, dtype=torch.float32)  # whatever torch's default dtype
    weight = torch.empty((n_out, n_in), **draw).uniform_(-bound, bound, generator=generator)
    bias = torch.empty(n_out, **draw).uniform_(-bound, bound, generator=generator)
    layer.weight = torch.nn.Parameter(weight)
    layer.bias = torch.nn.Parameter(bias)
    return layer


class _VectorField(torch.nn.Module):
    r"""MLP ``v(x, t)`` with SiLU activations, Fourier features and a time embedding.

    The input of the first layer is

    .. math::

        [x, \sin(2 \pi B^T x), \cos(2 \pi B^T x), t,
         \sin(2 \pi f t), \cos(2 \pi f t)]

    with random frequencies :math:`B_{jk} \sim N(0, s^2 / d)` (Tancik et al.
    2020: Fourier features let an MLP represent the sharp features of a
    low-dimensional density) and the time frequencies ``f`` of
    ``_TIME_FREQUENCIES``.
    """

    def __init__(self, n_features, hidden_layer_sizes, n_fourier, fourier_scale,
                 generator, device):
        super().__init__()
        # float32, as the training data, whatever torch's default dtype.
        self.register_buffer(
            "time_frequencies",
            2 * math.pi * torch.tensor(_TIME_FREQUENCIES, device=device, dtype=torch.float32),
        )
        B = torch.randn(n_features, n_fourier, generator=generator, device=device,
                        dtype=torch.float32)
        self.register_buffer(
            "fourier_frequencies",
            B * (2 * math.pi * fourier_scale / math.sqrt(n_features)),
        )
        n_in = n_features + 2 * n_fourier + 1 + 2 * len(_TIME_FREQUENCIES)
        sizes = [n_in, *hidden_layer_sizes]
        self.hidden = torch.nn.ModuleList(
            _linear(a, b, generator, device) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.out = _linear(sizes[-1], n_features, generator, device)

    def forward(self, x, t):
        t = t[:, None].to(x.dtype)
        angles = t * self.time_frequencies.to(x.dtype)
        proj = x @ self.fourier_frequencies.to(x.dtype)
        h = torch.cat(
            [x, torch.sin(proj), torch.cos(proj), t, torch.sin(angles), torch.cos(angles)],
            dim=1,
        )
        # The engine's linear: float32 training products in oneDNN where it
        # beats the BLAS (AMD CPUs), addmm elsewhere.
        for layer in self.hidden:
            h = torch.nn.functional.silu(linear(h, layer.weight, layer.bias))
        return linear(h, self.out.weight, self.out.bias)


def _mean_and_scale(X):
    """Mean and standard deviation of each column, 1 for a constant column.

    Computed on the columns divided by their largest magnitude, so that data in
    any units (1e-200 or 1e200) neither underflow nor overflow in the squares.
    A column is constant when its variance is within the rounding error of the
    two-pass computation (Chan, Golub and LeVeque 1983; the bound of
    scikit-learn's ``StandardScaler``), whatever its magnitude.

    Parameters
    ----------
    X : ndarray, shape (n, d)

    Returns
    -------
    mean : ndarray, shape (d,)
    scale : ndarray, shape (d,)
    """
    X = np.asarray(X, dtype=np.float64)
    magnitude = np.abs(X).max(axis=0)
    magnitude[magnitude == 0] = 1.0
    X = X / magnitude
    mean, var = X.mean(axis=0), X.var(axis=0)
    n_samples, eps = X.shape[0], np.finfo(np.float64).eps
    constant = var <= n_samples * eps * var + (n_samples * mean * eps) ** 2
    scale = np.where(constant, 1.0, np.sqrt(var) * magnitude)
    return mean * magnitude, scale


def _splitmix64(x):
    """SplitMix64's output function on an array of ``uint64`` (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _rademacher_probes(X, seed):
    """Hutchinson probes: signs that are a function of each row of ``X`` and ``seed``.

    Each row's bit pattern is hashed (SplitMix64, folded over the features)
    and the hash, mixed with each feature's index, gives that feature's sign.
    A row gets the same probe wherever it stands in ``X`` and whatever else
    ``X`` holds, so that ``score_samples`` is a function of the sample, as
    scikit-learn's estimator checks require (probes drawn from a generator
    follow the row's position instead). Distinct rows get independent-looking
    probes; equal rows (``0.0`` and ``-0.0`` included) get the same.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
    seed : int

    Returns
    -------
    probes : ndarray of shape (n_samples, n_features), float64
        Entries -1 or +1.
    """
    # + 0.0 turns -0.0 into 0.0: equal values, equal bits, equal probes.
    bits = (np.asarray(X, dtype=np.float64) + 0.0).view(np.uint64)
    h = np.full(X.shape[0], seed, dtype=np.uint64)
    for column in bits.T:
        h = _splitmix64(h ^ column)
    index = np.arange(1, X.shape[1] + 1, dtype=np.uint64)
    signs = _splitmix64(h[:, None] ^ _splitmix64(index)[None, :]) >> np.uint64(63)
    return 1.0 - 2.0 * signs.astype(np.float64)


def _standard_normal_logpdf(z):
    """Log-density of N(0, I) at the rows of ``z``."""
    return -0.5 * (z.square().sum(dim=1) + z.shape[1] * _LOG_2PI)


def _as_vector_field(model):
    """The trained network as ``vector_field_`` (in place): evaluated in float64,
    the ODE and its divergence integral are accurate to far below the model's
    error, and a row's result does not depend on the other rows of its block."""
    return model.to(torch.float64).requires_grad_(False).eval()


def _fitted_field(model, state=None, history=None):
    """A callable giving ``vector_field_`` from a copy of the network being
    trained, as it is when called or with the parameters ``state()``, and
    the attributes of ``history()`` (the training so far)."""

    def attributes():
        field = copy.deepcopy(model)
        if state is not None:
            field.load_state_dict(state())
        return {**({} if history is None else history()),
                "vector_field_": _as_vector_field(field)}

    return attributes


def _training_history(result, n_iter, early_stopping):
    """The fitted attributes of the training recorded in ``result`` (a
    :class:`~skmath._engine.TrainResult`, complete or being filled), ``n_iter``
    epochs in."""
    history = {"loss_curve_": list(result.loss_curve), "n_iter_": n_iter,
               "validation_scores_": None, "best_validation_score_": None}
    if early_stopping:
        history.update(validation_scores_=list(result.validation_scores),
                       best_validation_score_=result.best_validation_so_far())
    return history


class FlowMatchingSampler(
    CallbackSupportMixin,
    TorchEstimatorMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    DensityMixin,
    BaseEstimator,
):
    """Density estimator: a continuous normalising flow fit by flow matching.

    The data are standardised, then a neural vector field ``v(x, t)`` is
    regressed onto the conditional flow matching targets that carry a standard
    normal source (``t = 0``) to the data (``t = 1``) (Lipman et al. 2023,
    Tong et al. 2024). The ODE ``dx/dt = v(x, t)`` is an invertible map between
    noise and data: it gives samples, exact log-densities (by integrating the
    divergence of ``v``), and a transformer to and from the latent space.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers,), default=(256, 256, 256)
        Widths of the hidden layers of the vector field (SiLU activations).
    n_fourier_features : int, default=32
        Number of random frequencies of the Fourier features of the
        (standardised) input; 0 feeds ``x`` alone. They let the network draw
        sharp edges in low dimension (Tancik et al. 2020).
    fourier_scale : float, default=1.0
        Standard deviation ``s`` of the frequencies, in cycles per standard
        deviation of the data along a random direction: each frequency vector
        is drawn from ``N(0, s^2 / n_features * I)``.
    max_iter : int, default=200
        Maximum number of epochs.
    batch_size : int, default=512
        Size of the minibatches (clipped to the number of training samples).
    learning_rate_init : float, default=4e-3
        Initial learning rate of Adam.
    learning_rate : {"cosine", "constant"}, default="cosine"
        ``"cosine"`` anneals the learning rate from ``learning_rate_init`` to 0
        over ``max_iter`` epochs.
    sigma : float, default=0.01
        Standard deviation of the conditional probability paths (in
        standardised units); small values give sharper densities.
    coupling : {"independent", "ot"}, default="ot"
        How minibatch source and data points are paired: independently (I-CFM),
        or by exact optimal transport plans (OT-CFM, Tong et al. 2024) on
        random blocks of 64 points of each minibatch (the Hungarian algorithm
        is cubic in the block size). OT pairs give nearly straight paths: lower
        variance targets, faster training, and few ODE steps.
    solver : {"rk4", "midpoint", "euler", "dopri5"}, default="rk4"
        ODE solver of ``sample``, ``transform``, ``inverse_transform`` and
        ``score_samples``: fixed-step Runge-Kutta methods (deterministic;
        ``inverse_transform(transform(X))`` returns ``X`` up to the method's
        error, of order ``n_steps ** -p``: measured on two moons at 16 steps,
        3e-5 for ``"rk4"``, 4e-4 for ``"midpoint"``, 0.06 for ``"euler"``), or
        adaptive Dormand-Prince 5(4). A coarse solver also biases the
        log-density upwards (see Notes): choose it for accuracy, not by
        ``score``.
    n_steps : int, default=16
        Number of steps of the fixed-step solvers (the first step of
        ``"dopri5"`` is ``1 / n_steps``).
    solver_tol : float, default=1e-5
        Relative and absolute tolerance of ``"dopri5"`` (the relative one is
        raised to at least ``100 * np.finfo(np.float64).eps``, as in
        :func:`scipy.integrate.solve_ivp`), on each step's local error: the
        error of the whole trajectory is larger (measured at the default:
        8e-4, as ``solve_ivp``'s RK45 at the same tolerance).
    divergence : {"exact", "hutchinson"}, default="exact"
        How ``score_samples`` computes the divergence of the vector field:
        the exact trace of its Jacobian (costs about ``n_features`` backward
        passes), or Hutchinson's unbiased estimate with one Rademacher probe
        per sample (one backward pass; for many features). A sample's probe
        is a hash of its values and of ``random_state``, so its estimate
        does not depend on the other samples or their order, and repeated
        calls agree.
    early_stopping : bool, default=False
        Set aside ``validation_fraction`` of the data and stop when the flow
        matching loss on it (with fixed draws of times and noise) has not
        improved for ``n_iter_no_change`` epochs; the best weights are kept.
    validation_fraction : float, default=0.1
        Proportion of the training data set aside for early stopping.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    tol : float or None, default=None
        Minimum improvement of the loss (or validation loss) for an epoch to
        count as improving. ``None`` never stops on the training loss (its
        noise, from the random times and source draws, is larger than any
        useful tolerance) and, with ``early_stopping``, counts any epoch whose
        validation loss does not rise (sklearn's rule with ``tol=0``). When a
        stopping rule is set (``tol`` or ``early_stopping``) and ``max_iter``
        runs out first, a :class:`~sklearn.exceptions.ConvergenceWarning` is
        raised, as by sklearn's MLPs.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the minibatches, the flow matching draws,
        the validation split, the Hutchinson probes and, by default,
        ``sample``. Pass an int for reproducible results.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``.
    verbose : bool, default=False
        Print ``Iteration i, loss = ...`` each epoch to stdout (scikit-learn's
        MLP lines, with the validation score and the stopping message) above
        a ``tqdm`` progress bar (on stderr).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Mean of the training data.
    scale_ : ndarray of shape (n_features,)
        Standard deviation of the training data (1 for a feature that is
        constant up to rounding, as in
        :class:`~sklearn.preprocessing.StandardScaler`).
    vector_field_ : torch.nn.Module
        The fitted vector field ``v(x, t)`` on standardised data.
    loss_curve_ : list of float
        Training loss (mean squared error of the vector field) of each epoch.
    validation_scores_ : list of float or None
        Negative validation loss of each epoch, with ``early_stopping``.
    best_validation_score_ : float or None
        Best negative validation loss, with ``early_stopping``.
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.mixture.GaussianMixture : Density estimation with a mixture of
        Gaussians.
    sklearn.neighbors.KernelDensity : Kernel density estimation.

    Notes
    -----
    With source ``x0 ~ N(0, I)``, data ``x1`` and ``t ~ U[0, 1]``, the vector
    field minimises ``E || v(x_t, t) - (x1 - x0) ||^2`` where
    ``x_t = t x1 + (1 - t) x0 + sigma * eps``. The log-density follows from the
    instantaneous change of variables (Chen et al. 2018)::

        log p(x) = log N(z; 0, I) - int_0^1 div v(x_t, t) dt - sum(log scale_)

    where ``z`` is ``x`` (standardised) carried back to ``t = 0``. The
    density is normalised up to the solver's error on that integral: with
    ``"rk4"`` at 4 to 16 steps it integrates to 0.99-1.004 on a grid (two
    moons), but fewer steps or a coarse solver inflate it (one ``"rk4"``
    step: 1.08-1.24; ``"euler"`` with one step: 1.9-3.7, and a ``score`` on
    held-out rows 0.3-0.8 nats *higher* than ``"rk4"``'s). So do not
    tune ``solver`` or ``n_steps`` by ``score`` (GridSearchCV would pick the
    coarsest): fix them for accuracy, then tune the model.

    The vector field is an MLP on ``[x, Fourier features of x, t, sinusoidal
    features of t]``; it is trained in float32 with Adam and evaluated in
    float64 after the fit, so with ``"rk4"`` (or ``"dopri5"``) the ODE
    solves and their inverses agree to far below the model's own error, and
    a sample's result does not depend on the other rows it is evaluated
    with (up to the rounding of the products, 1e-16 relative).

    ``score_samples``, ``transform``, ``inverse_transform`` and ``sample``
    work in blocks of rows sized by scikit-learn's ``working_memory``
    (:func:`sklearn.config_context`), so millions of points fit in memory.

    References
    ----------
    Lipman, Chen, Ben-Hamu, Nickel, Le. "Flow Matching for Generative
    Modeling". ICLR 2023.

    Tong, Fatras, Malkin, Huguet, Zhang, Rector-Brooks, Wolf, Bengio.
    "Improving and generalizing flow-based generative models with minibatch
    optimal transport". TMLR 2024.

    Chen, Rubanova, Bettencourt, Duvenaud. "Neural Ordinary Differential
    Equations". NeurIPS 2018.

    Tancik, Srinivasan, Mildenhall, Fridovich-Keil, Raghavan, Singhal,
    Ramamoorthi, Barron, Ng. "Fourier Features Let Networks Learn High
    Frequency Functions in Low Dimensional Domains". NeurIPS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skmath import FlowMatchingSampler
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 2)) @ np.array([[1.0, 0.5], [0.0, 0.5]])
    >>> flow = FlowMatchingSampler(hidden_layer_sizes=(64, 64), max_iter=50,
    ...                            random_state=0, device="cpu").fit(X)
    >>> flow.sample(3).shape
    (3, 2)
    >>> flow.score_samples(X[:2]).shape
    (2,)
    >>> Z = flow.transform(X)
    >>> bool(np.allclose(flow.inverse_transform(Z), X, atol=1e-3))
    True
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "n_fourier_features": [Interval(Integral, 0, None, closed="left")],
        "fourier_scale": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "learning_rate": [StrOptions({"cosine", "constant"})],
        "sigma": [Interval(Real, 0, None, closed="left")],
        "coupling": [StrOptions({"independent", "ot"})],
        "solver": [StrOptions(set(SOLVERS))],
        "n_steps": [Interval(Integral, 1, None, closed="left")],
        "solver_tol": [Interval(Real, 0, None, closed="neither")],
        "divergence": [StrOptions({"exact", "hutchinson"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 256, 256),
        *,
        n_fourier_features=32,
        fourier_scale=1.0,
        max_iter=200,
        batch_size=512,
        learning_rate_init=4e-3,
        learning_rate="cosine",
        sigma=0.01,
        coupling="ot",
        solver="rk4",
        n_steps=16,
        solver_tol=1e-5,
        divergence="exact",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=None,
        random_state=None,
        device="auto",
        verbose=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_fourier_features = n_fourier_features
        self.fourier_scale = fourier_scale
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.sigma = sigma
        self.coupling = coupling
        self.solver = solver
        self.n_steps = n_steps
        self.solver_tol = solver_tol
        self.divergence = divergence
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if not sizes or not all(isinstance(s, Integral) and s > 0 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a positive int or a non-empty sequence "
                f"of positive ints, got {self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    @_fit_context(prefer_skip_nested_validation=True)
    @unchanged_on_failure  # a failed (re)fit leaves the fitted model as it was
    def fit(self, X, y=None):
        """Fit the flow to the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        sizes = self._hidden_sizes()
        n_samples, n_features = X.shape
        rng = np.random.RandomState(seed_from(self.random_state) % (2**32))
        # One seed per random stream, drawn in a fixed order.
        seed_init, seed_train, seed_val, seed_probe = rng.randint(2**31, size=4)
        self._probe_seed = int(seed_probe)

        self.mean_, self.scale_ = _mean_and_scale(X)

        if self.early_stopping:
            n_val = max(1, int(round(self.validation_fraction * n_samples)))
            if n_samples - n_val < 1:
                advice = (
                    "pass at least 2 samples" if n_samples < 2
                    else "pass a smaller validation_fraction or more samples"
                )
                raise ValueError(
                    f"early_stopping with validation_fraction={self.validation_fraction} "
                    f"sets aside {n_val} of n_samples={n_samples} rows for validation, "
                    f"leaving none to train on: {advice}."
                )
            order = rng.permutation(n_samples)
            train_idx, val_idx = np.sort(order[n_val:]), np.sort(order[:n_val])
        else:
            train_idx, val_idx = np.arange(n_samples), None

        device = self._resolve_device()
        batch_size = min(self.batch_size, len(train_idx))
        # Trained by autograd, also under the caller's torch.inference_mode()
        # (where the weights would be inference tensors, which autograd
        # refuses).
        with torch.inference_mode(False), torch_threads():
            Xs = as_tensor((X - self.mean_) / self.scale_, device, dtype=torch.float32)
            model = _VectorField(
                n_features,
                sizes,
                self.n_fourier_features,
                self.fourier_scale,
                make_generator(int(seed_init), device),
                device,
            )
            optimizer = Adam(model.parameters(), lr=self.learning_rate_init)
            generator = make_generator(int(seed_train), device)

            def batch_loss(x1):
                return cfm_loss(model, x1, self.sigma, generator, coupling=self.coupling)

            validation_score = None
            if val_idx is not None:
                validation_score = self._validation_score(
                    model, Xs[as_tensor(val_idx, device)],
                    make_generator(int(seed_val), device),
                )

            # Callbacks (scikit-learn >= 1.9): a task per epoch. The starting
            # point has no training yet (not the previous fit's history).
            tasks = FitTasks(self, X, y, max_iter=self.max_iter, task_name="epoch",
                             start=_fitted_field(model, history=lambda: _training_history(
                                 TrainResult(), 0, self.early_stopping)))

            def on_epoch_end(epoch, loss, returned_state):
                if self.learning_rate == "cosine":
                    lr = 0.5 * self.learning_rate_init * (
                        1 + math.cos(math.pi * epoch / self.max_iter)
                    )
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                # Callbacks get the model this fit would return if it
                # stopped now (early stopping's best epoch), its training
                # history included, and may stop it.
                return tasks(_fitted_field(model, returned_state, lambda: _training_history(
                    progress, epoch, self.early_stopping)))

            if self.tol is None:
                tol = 0.0 if self.early_stopping else -math.inf
            else:
                tol = self.tol
            progress = TrainResult()  # filled by train as it goes
            result = train(
                model,
                batch_loss,
                (Xs[as_tensor(train_idx, device)],),
                optimizer=optimizer,
                max_iter=self.max_iter,
                batch_size=batch_size,
                generator=generator,
                tol=tol,
                n_iter_no_change=self.n_iter_no_change,
                validation_score=validation_score,
                on_epoch_end=on_epoch_end,
                verbose=self.verbose,
                desc="FlowMatchingSampler",
                result=progress,
            )
        if (
            (self.tol is not None or self.early_stopping)
            and not result.converged
            and result.n_iter == self.max_iter
        ):
            # As sklearn's MLPs, where a stopping rule was asked for; with the
            # default tol=None the training always runs max_iter epochs.
            warnings.warn(
                f"FlowMatchingSampler: maximum iterations ({self.max_iter}) reached "
                "before the stopping rule (tol, early_stopping) ended the training.",
                ConvergenceWarning,
            )
        with torch.inference_mode(False):  # not inference tensors (see above)
            self.vector_field_ = _as_vector_field(model)
        self.__dict__.update(_training_history(result, result.n_iter, self.early_stopping))
        tasks.end()
        return self

    def _validation_score(self, model, x1, generator):
        """Negative flow matching loss on held-out rows, with fixed draws."""
        draw = dict(generator=generator, device=x1.device, dtype=x1.dtype)
        x0 = torch.randn(x1.shape, **draw)
        t = torch.rand(x1.shape[0], **draw)
        eps = torch.randn(x1.shape, **draw)
        if self.coupling == "ot":
            x0 = ot_pairing(x0, x1, OT_BLOCK_SIZE)
        xt = conditional_path(x0, x1, t, self.sigma, eps)
        ut = conditional_vector_field(x0, x1)

        def score():
            return -float((model(xt, t) - ut).square().mean())

        return score

    # ------------------------------------------------------------ the flow

    def _block_rows(self):
        """Rows per block so one block's work stays within ``working_memory``."""
        n_features = self.n_features_in_
        # The fitted network's widths, whatever hidden_layer_sizes says now.
        n_hidden = sum(layer.out_features for layer in self.vector_field_.hidden)
        row_bytes = _BYTES_PER_UNIT * (n_features + 1) * n_hidden
        if self.divergence == "hutchinson":
            row_bytes = _BYTES_PER_UNIT * 2 * n_hidden
        rows = int(get_config()["working_memory"] * 2**20 // row_bytes)
        return max(rows, 1)

    def _field(self):
        model = self.vector_field_.to(self._predict_device())
        return lambda x, t: model(x, t)

    def _ode_kwargs(self):
        return dict(
            method=self.solver, n_steps=self.n_steps, rtol=self.solver_tol,
            atol=self.solver_tol,
        )

    def _flow(self, X, t0, t1):
        """Carry the rows of ``X`` (standardised, float64) from ``t0`` to ``t1``."""
        device = self._predict_device()
        f = self._field()
        out = np.empty_like(X)
        with torch_threads():
            block = self._block_rows()
            for start in range(0, X.shape[0], block):
                stop = start + block
                x = as_tensor(X[start:stop], device, dtype=torch.float64)
                out[start:stop] = to_numpy(odeint(f, x, t0, t1, **self._ode_kwargs()))
        return out

    def _check_fitted(self):
        """``check_is_fitted``, and the solver parameters (set_params after fit)."""
        check_is_fitted(self)
        validate_parameter_constraints(
            {name: self._parameter_constraints[name] for name in _EVALUATION_PARAMETERS},
            {name: getattr(self, name) for name in _EVALUATION_PARAMETERS},
            caller_name=type(self).__name__,
        )

    def _standardised(self, X):
        """``(X - mean_) / scale_``; rows that overflow become inf (see ``_FAR``)."""
        with np.errstate(over="ignore"):
            return (X - self.mean_) / self.scale_

    def _check_X(self, X):
        self._check_fitted()
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return np.asarray(X, dtype=np.float64)

    def transform(self, X):
        """Map data to the latent space: the flow run from data back to noise.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features)
            Latent points, distributed as N(0, I) when ``X`` follows the
            learned density.
        """
        Xs = self._standardised(self._check_X(X))
        _check_in_range(Xs, "X")
        return self._flow(Xs, 1.0, 0.0)

    def inverse_transform(self, X):
        """Map latent points to data: the flow run from noise to data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Latent points.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Points in the units of the training data.
        """
        self._check_fitted()
        Z = check_array(X, dtype=[np.float64, np.float32], estimator=self)
        if Z.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        Z = np.asarray(Z, dtype=np.float64)
        _check_in_range(Z, "The latent X")
        return self._flow(Z, 0.0, 1.0) * self.scale_ + self.mean_

    def sample(self, n_samples=1, random_state=None):
        """Draw samples from the learned density.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seeds the latent draws; ``None`` uses the estimator's
            ``random_state`` (so, as in
            :meth:`sklearn.mixture.GaussianMixture.sample`, an int there
            gives the same samples on every call).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples: the array alone, as :meth:`KernelDensity.sample
            <sklearn.neighbors.KernelDensity.sample>` returns
            (``GaussianMixture.sample`` also returns component labels, which
            a flow does not have).
        """
        self._check_fitted()
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive integer, got {n_samples!r}."
            )
        if random_state is None:
            random_state = self.random_state
        generator = make_generator(random_state, torch.device("cpu"))
        Z = torch.randn(
            (int(n_samples), self.n_features_in_), generator=generator,
            dtype=torch.float64, device="cpu",
        )
        return self.inverse_transform(Z.numpy())

    def score_samples(self, X):
        """Log-density of the learned model at each sample.

        Integrates the divergence of the vector field along the flow from the
        data to the latent space (exactly, or with Hutchinson's estimate, see
        ``divergence``), in the original units of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points.

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            Log-density at each point.
        """
        X = self._check_X(X)
        Xs = self._standardised(X)
        # Points beyond _FAR once standardised (1e152 on data of scale 1e-3)
        # are infinitely far: log-density -inf, as KernelDensity's and
        # GaussianMixture's, not the network's NaN.
        far = _far_rows(Xs)
        Xs[far] = 0.0
        device = self._predict_device()
        f = self._field()
        log_jacobian = float(np.log(self.scale_).sum())
        out = np.empty(X.shape[0])
        # The divergence is a derivative (autograd), also under the caller's
        # torch.inference_mode(), which enable_grad alone does not leave.
        with torch.inference_mode(False), torch_threads():
            block = self._block_rows()
            for start in range(0, X.shape[0], block):
                stop = start + block
                x = as_tensor(Xs[start:stop], device, dtype=torch.float64)
                eps = None
                if self.divergence == "hutchinson":
                    eps = as_tensor(
                        _rademacher_probes(X[start:stop], self._probe_seed), device,
                        dtype=torch.float64,
                    )
                z, delta = odeint_logdet(
                    f, x, 1.0, 0.0, divergence=self.divergence, eps=eps,
                    **self._ode_kwargs(),
                )
                out[start:stop] = to_numpy(_standard_normal_logpdf(z) + delta)
        out[far] = -np.inf
        return out - log_jacobian

    def score(self, X, y=None):
        """Mean log-likelihood of the samples (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points.
        y : None
            Ignored.

        Returns
        -------
        log_likelihood : float
            Mean of :meth:`score_samples` over ``X``, as
            :meth:`sklearn.mixture.GaussianMixture.score` (not the total of
            :meth:`sklearn.neighbors.KernelDensity.score`).
        """
        return float(self.score_samples(X).mean())

    @property
    def _n_features_out(self):
        return self.n_features_in_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
