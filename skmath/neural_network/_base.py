"""Multi-layer perceptron machinery shared by the MLP and MC-dropout estimators.

The estimators validate their input and then hand tensors to the pure
functions below, which assume validated input (as ``sklearn/cluster/_kmeans.py``
does with its private functions):

- :func:`_init_layers` draws sklearn's Glorot-uniform initial weights from a
  local generator;
- :func:`_forward` is the network: affine layers, hidden activations and,
  for Monte Carlo prediction, fixed dropout masks on the hidden units;
- :func:`_output_delta` is sklearn's loss, term for term (half squared
  error, half Poisson deviance, log-loss), so ``loss_curve_`` values can be
  compared with :class:`sklearn.neural_network.MLPClassifier`'s, and its
  gradient with respect to the network's raw output;
- :func:`_backprop` is one training step's loss and gradients, the chain rule
  written out as in sklearn, with training dropout. No autograd graph: for
  a perceptron the closed form is faster (measured on CPU, 50 -> 256 -> 256
  -> 3, batch 256: 1.06 ms a step against 1.45 ms with autograd);
- :func:`_validation_score` is accuracy or R^2 on the held-out split.

:class:`_BaseMLP` is the estimator base: parameter handling, the fit driver
(initialisation, warm start, ``partial_fit``, early-stopping split, the shared
training loop of :mod:`skmath._engine` for ``"sgd"``/``"adam"`` and scipy's
L-BFGS-B for ``"lbfgs"``) and the forward pass used by every ``predict``.

Dtype rule (scikit-learn's): float32 input is fitted and predicted in float32,
anything else in float64. Pass float32 data for speed (on GPU especially).
"""

import math
import warnings
from itertools import count, pairwise
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._callbacks import CallbackSupportMixin, FitTasks
from .._compat import _check_sample_weight
from .._engine import (
    SGD,
    SKLEARN_DIVERGED_MESSAGE,
    STOPPED_BY_CALLBACK,
    Adam,
    DivergenceError,
    TorchEstimatorMixin,
    TrainResult,
    as_tensor,
    block_rows,
    csr_transpose,
    linear,
    make_generator,
    minimize_lbfgs,
    pow2_exponent,
    row_blocks,
    take_rows,
    to_numpy,
    torch_dtype,
    torch_threads,
    train,
    unchanged_on_failure,
)

_STOCHASTIC_SOLVERS = ("sgd", "adam")

# In-place hidden activations: the affine output they overwrite is never needed
# again (backpropagation uses the activation's output, see below), so
# overwriting saves one tensor per layer.
_ACTIVATIONS = {
    "identity": lambda z: z,
    "logistic": torch.sigmoid_,
    "tanh": torch.tanh_,
    "relu": torch.relu_,
}

# Derivative of each hidden activation, from its output ``a = act(z)`` (as
# sklearn's DERIVATIVES): ``grad_z = grad_a * act'(z)``, one fused aten kernel
# each (the ones autograd itself uses).
_ACTIVATION_BACKWARD = {
    "identity": lambda grad, a: grad,
    "logistic": torch.ops.aten.sigmoid_backward,  # grad * a * (1 - a)
    "tanh": torch.ops.aten.tanh_backward,  # grad * (1 - a^2)
    "relu": lambda grad, a: torch.ops.aten.threshold_backward(grad, a, 0),  # grad * (a > 0)
}

# Output activation of each output layer ("link" of the loss).
_OUT_ACTIVATIONS = {
    "identity": lambda z: z,
    "exp": torch.exp,
    "logistic": torch.sigmoid,
    "softmax": lambda z: torch.softmax(z, dim=1),
}

# sklearn's adaptive schedule divides the learning rate by this on a plateau
# and stops once it falls below _MIN_ADAPTIVE_LR.
_ADAPTIVE_DIVISOR = 5.0
_MIN_ADAPTIVE_LR = 1e-6
# sklearn's automatic minibatch: min(_AUTO_BATCH, n_samples).
_AUTO_BATCH = 200
def _init_layers(layer_units, activation, generator, dtype, device):
    """Glorot-uniform initial weights, as in sklearn's ``_init_coef``.

    Weights and biases of the layer ``fan_in -> fan_out`` are drawn from
    ``U(-b, b)`` with ``b = sqrt(factor / (fan_in + fan_out))``; ``factor`` is
    6 (Glorot & Bengio 2010) or 2 for the logistic activation.

    Returns
    -------
    coefs : list of Tensor, shapes (fan_in, fan_out)
    intercepts : list of Tensor, shapes (fan_out,)
    """
    factor = 2.0 if activation == "logistic" else 6.0
    dtype = torch_dtype(dtype)
    coefs, intercepts = [], []
    for fan_in, fan_out in pairwise(layer_units):
        bound = math.sqrt(factor / (fan_in + fan_out))
        # Drawn in float64 whatever the fit's dtype (as sklearn casts its
        # float64 draws): the same random_state starts float32 and float64
        # fits from the same weights and leaves the generator in the same
        # state for the minibatch order.
        for shape, out in (((fan_in, fan_out), coefs), ((fan_out,), intercepts)):
            draw = torch.empty(shape, dtype=torch.float64, device=device)
            out.append(draw.uniform_(-bound, bound, generator=generator).to(dtype))
    return coefs, intercepts


def _dropout(h, rate, generator):
    """Inverted dropout: zero each entry with probability ``rate``, scale the rest.

    ``h * m / (1 - rate)`` with ``m ~ Bernoulli(1 - rate)`` drawn from
    ``generator`` (never torch's global RNG), so the expected activation is
    unchanged. Returns the dropped-out activations and the scaled mask.
    """
    keep = 1.0 - rate
    mask = torch.empty_like(h).bernoulli_(keep, generator=generator).mul_(1.0 / keep)
    return h * mask, mask


def _forward(X, coefs, intercepts, activation, *, masks=None):
    """Raw output ``z`` of the network (before the output activation).

    ``h_0 = X``, ``h_{l+1} = act(h_l W_l + b_l)`` for the hidden layers and
    ``z = h_L W_L + b_L``. Dropout acts on the hidden units only (never on the
    inputs), so ``coefs_[0]`` keeps the meaning it has in scikit-learn.

    Parameters
    ----------
    X : Tensor, shape (n, n_features)
    coefs, intercepts : list of Tensor
        Shapes (fan_in, fan_out) and (fan_out,). Transposed views of
        (fan_out, fan_in) storage (:class:`_Network`'s) are the fast layout
        for the matrix products.
    activation : str
        Hidden activation, a key of ``_ACTIVATIONS``.
    masks : list of Tensor or None
        One mask per hidden layer, shape ``(T, 1, width)`` (already scaled by
        ``1 / (1 - rate)``): the hidden units of each of ``T`` networks
        sampled from the dropout distribution (MC prediction). The output then
        has shape ``(T, n, n_outputs)``.

    Returns
    -------
    z : Tensor, shape (n, n_outputs) or (T, n, n_outputs)
    """
    act = _ACTIVATIONS[activation]
    h = X
    last = len(coefs) - 1
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        h = linear(h, W.T, b) if h.dim() == 2 else torch.matmul(h, W).add_(b)
        if i < last:
            h = act(h)
            if masks is not None:
                h = h * masks[i]
    return h


def _weight_total(sample_weight):
    """Sum of a batch's sample weights, or ``inf`` where it is zero.

    The weighted mean loss of a minibatch whose weights sum to zero (zero
    weights only, in a fit whose weights do not all vanish) is undefined, and
    sklearn divides by zero there. Dividing by ``inf`` instead makes such a
    batch add no loss and no gradient, L2 term included, as if its rows had
    been left out; no host synchronisation is needed.
    """
    total = sample_weight.sum()
    return torch.where(total == 0, math.inf, total)


def _clip_log_loss(loss):
    """``loss = -log p`` with ``p`` clipped to ``[eps, 1 - eps]``, in place."""
    eps = torch.finfo(loss.dtype).eps
    return loss.clamp_(-math.log1p(-eps), -math.log(eps))


def _output_delta(z, y, out_activation, sample_weight=None):
    """sklearn's MLP loss of raw outputs ``z`` and its gradient ``dL/dz``.

    The loss is the mean over samples (weighted mean ``sum w l / sum w`` with
    ``sample_weight``; 0 where ``sum w = 0``, see :func:`_weight_total`) of

    - ``"identity"``: half squared error, averaged over outputs;
    - ``"exp"``: half Poisson deviance ``y log(y / mu) - y + mu``, ``mu = e^z``,
      summed over outputs;
    - ``"softmax"``: cross-entropy; ``y`` holds class indices;
    - ``"logistic"``: binary log-loss summed over outputs (binary and
      multi-label).

    Each is the canonical link of its output activation, so the gradient is
    ``(out_activation(z) - y) / n`` (divided by the number of outputs too for
    the averaged squared error). The log-losses are computed from the logits
    (log-sum-exp); each sample's (each output's) log-loss is then clipped to
    ``[-log(1 - eps), -log(eps)]``, ``eps`` the dtype's machine epsilon, as
    sklearn clips its probabilities to ``[eps, 1 - eps]``: a confidently
    wrong sample adds at most 36 nats in float64 (16 in float32) to the
    reported loss, and the stopping rule that reads it sees sklearn's values.
    The gradient is not clipped (nor is sklearn's).

    Returns
    -------
    loss : Tensor, scalar
    delta : Tensor, shape (n, n_outputs)
    """
    if out_activation == "softmax":
        logp = torch.log_softmax(z, dim=1)
        # -log p of each row's class (nll_loss's values, but it has no
        # deterministic CUDA kernel: torch.use_deterministic_algorithms raises)
        per_sample = _clip_log_loss(logp.gather(1, y[:, None])[:, 0].neg())
        delta = logp.exp_()
        delta.scatter_add_(1, y[:, None], torch.full_like(delta[:, :1], -1.0))
    elif out_activation == "logistic":
        per_sample = _clip_log_loss(
            F.binary_cross_entropy_with_logits(z, y, reduction="none")
        ).sum(1)
        delta = torch.sigmoid(z).sub_(y)
    elif out_activation == "identity":
        residual = z - y
        per_sample = residual.square().mean(1).mul_(0.5)
        delta = residual.div_(z.shape[1])
    else:  # "exp": Poisson deviance with log link
        mu = torch.exp(z)
        per_sample = (torch.xlogy(y, y) - y * z - y + mu).sum(1)
        delta = mu.sub_(y)
    if sample_weight is None:
        return per_sample.mean(), delta.div_(z.shape[0])
    total = _weight_total(sample_weight)
    loss = (per_sample * sample_weight).sum() / total
    return loss, delta.mul_((sample_weight / total)[:, None])


def _sparse_weight_grad(X, delta, W, decay, out=None, X_transposed=None):
    """``delta^T X + decay W`` for a sparse CSR ``X``, as the transposed view of
    ``X^T delta + decay W^T`` (sparse CSR times dense: the product sparse
    kernels do fast; ``out`` and ``W`` are transposed views of (fan_in,
    fan_out) storage, see :class:`_Network`). ``X_transposed``: ``X^T`` as
    CSR when the caller has it (full-batch L-BFGS builds it once)."""
    if X_transposed is None:
        X_transposed = csr_transpose(X)
    grad = torch.mm(X_transposed, delta, out=None if out is None else out.T)
    return grad.add_(W.T, alpha=decay).T


def _backprop(X, y, weights, intercepts, activation, out_activation, *, alpha=0.0,
              sample_weight=None, dropout=0.0, generator=None, weight_vector=None, out=None,
              X_transposed=None):
    """Loss of one batch and its gradients by backpropagation (sklearn's ``_backprop``).

    The forward pass of :func:`_forward` with training dropout, then the chain
    rule written out: with ``delta_L = dL/dz`` (:func:`_output_delta`),

    - ``dL/dW_l = delta_l^T h_l + alpha W_l / n`` (``W_l`` in
      (fan_out, fan_in) layout, ``n`` the batch size or weight sum),
    - ``dL/db_l = sum_i delta_l``,
    - ``delta_{l-1} = act'(z_{l-1}) * (m_{l-1} * delta_l W_l)``, with
      ``m`` the dropout mask and ``act'`` taken from the activation's output.

    The loss includes sklearn's L2 term ``alpha sum ||W||^2 / (2 n)``
    (biases are not penalised). No autograd graph is built.

    Parameters
    ----------
    X : Tensor, shape (n, n_features)
    y : Tensor
        Class indices (``"softmax"``) or targets of shape (n, n_outputs).
    weights : list of Tensor, shapes (fan_out, fan_in)
    intercepts : list of Tensor, shapes (fan_out,)
    activation, out_activation : str
    alpha : float, default=0.0
    sample_weight : Tensor of shape (n,) or None
    dropout : float, default=0.0
        Rate of fresh masks on the hidden units, drawn from ``generator``.
    generator : torch.Generator or None
    weight_vector : Tensor or None
        All weights as one vector, when ``weights`` are views of it: the L2
        term is then one dot product.
    out : tuple of two lists of Tensor, or None
        Buffers shaped as ``weights`` and ``intercepts`` to write the
        gradients into.
    X_transposed : Tensor or None
        ``X^T`` as a sparse CSR tensor, for a sparse ``X`` used in many calls
        (built here otherwise).

    Returns
    -------
    loss : Tensor, scalar
    weight_grads, intercept_grads : list of Tensor
        Shaped as ``weights`` and ``intercepts``.
    """
    act = _ACTIVATIONS[activation]
    act_backward = _ACTIVATION_BACKWARD[activation]
    last = len(weights) - 1
    inputs, outputs, masks = [X], [], []
    h = X
    for i, (W, b) in enumerate(zip(weights, intercepts)):
        h = linear(h, W, b)
        if i < last:
            h = act(h)
            outputs.append(h)
            if dropout > 0.0:
                h, mask = _dropout(h, dropout, generator)
                masks.append(mask)
            inputs.append(h)
    loss, delta = _output_delta(h, y, out_activation, sample_weight)
    n = X.shape[0] if sample_weight is None else _weight_total(sample_weight)
    decay = alpha / n
    if out is None:
        out = [None] * len(weights), [None] * len(weights)
    weight_grads, intercept_grads = list(out[0]), list(out[1])
    for i in range(last, -1, -1):
        W = weights[i]
        if inputs[i].layout is torch.sparse_csr:
            weight_grads[i] = _sparse_weight_grad(
                inputs[i], delta, W, decay, weight_grads[i], X_transposed
            )
        else:
            weight_grads[i] = linear(delta.T, inputs[i].T, W, beta=decay, out=weight_grads[i])
        intercept_grads[i] = torch.sum(delta, 0, out=intercept_grads[i])
        if i > 0:
            delta = linear(delta, W.T)
            if masks:
                delta.mul_(masks[i - 1])
            delta = act_backward(delta, outputs[i - 1])
    if alpha > 0:
        if weight_vector is None:
            squares = torch.stack(torch._foreach_norm(weights)).square().sum()
        else:
            squares = torch.dot(weight_vector, weight_vector)
        loss = loss + (0.5 * decay) * squares
    return loss, weight_grads, intercept_grads


class _Network(torch.nn.Module):
    """The perceptron's parameters as one flat vector, a module for the engine's loop.

    ``flat`` holds every weight, then every intercept; ``weight_vector``,
    ``weights`` and ``intercepts`` are views into it, as ``weight_grads`` and
    ``intercept_grads`` are views into ``flat_grad``, where
    :func:`_backprop` writes. One vector makes the optimizer's update a single
    fused kernel, the L2 term a single dot product and L-BFGS's iterate a
    single copy. Weights are stored in (fan_out, fan_in) layout,
    :class:`torch.nn.Linear`'s: the BLAS products with a narrow output layer
    are several times faster that way (measured on CPU: a (256, 256) batch
    times a 256 x 3 layer takes 14 us against 44 us). With ``sparse_input``
    the first layer is stored (fan_in, fan_out) instead (``weights[0]`` is
    then a transposed view), the layout a sparse ``X @ W`` reads without a
    transposed copy of ``W`` (20,000 x 100 weights: 0.3 ms against 12 ms).
    The math is :func:`_forward` and :func:`_backprop`.
    """

    def __init__(self, coefs, intercepts, activation, *, sparse_input=False):
        super().__init__()
        self.activation = activation
        self._input_major = sparse_input
        stored = [W if i == 0 and sparse_input else W.T for i, W in enumerate(coefs)]
        self._shapes = [W.shape for W in stored] + [b.shape for b in intercepts]
        self.flat = torch.nn.Parameter(
            torch.cat([W.reshape(-1) for W in stored] + [b.reshape(-1) for b in intercepts])
        )
        flat = self.flat.detach()
        self.flat_grad = torch.zeros_like(flat)
        self.weight_vector = flat[: sum(W.numel() for W in coefs)]
        self.weights, self.intercepts = self._views(flat)
        self.weight_grads, self.intercept_grads = self._views(self.flat_grad)

    def _views(self, vector):
        """Weights (as (fan_out, fan_in) views) and intercepts in ``vector``."""
        sizes = [math.prod(shape) for shape in self._shapes]
        views = [c.view(shape) for c, shape in zip(torch.split(vector, sizes), self._shapes)]
        n_layers = len(views) // 2
        weights = views[:n_layers]
        if self._input_major:
            weights[0] = weights[0].T
        return weights, views[n_layers:]

    def relayout(self, vector, *, to_stored):
        """A flat vector (optimizer state) between the stored layout and the
        canonical one, where every weight is (fan_out, fan_in); the identity
        unless the first layer is stored input-major (``sparse_input``)."""
        if not self._input_major or vector.shape != self.flat.shape:
            return vector
        n_out, n_in = self.weights[0].shape
        shape = (n_out, n_in) if to_stored else (n_in, n_out)
        out = vector.clone()
        out[: n_out * n_in] = vector[: n_out * n_in].view(shape).T.reshape(-1)
        return out

    def relayout_state(self, state_dict, *, to_stored):
        """:meth:`relayout` applied to every per-parameter tensor of an optimizer state."""
        state = {
            key: {name: self.relayout(value, to_stored=to_stored) if torch.is_tensor(value)
                  else value for name, value in per_param.items()}
            for key, per_param in state_dict["state"].items()
        }
        return {**state_dict, "state": state}

    def with_vector(self, vector):
        """A network of this layout whose parameters are a copy of ``vector``
        (a ``flat`` in this network's layout)."""
        weights, intercepts = self._views(vector.detach())
        return _Network([W.T for W in weights], list(intercepts), self.activation,
                        sparse_input=self._input_major)

    @property
    def coefs(self):
        """The weights as sklearn's ``coefs_`` shape them, (fan_in, fan_out) views."""
        return [W.T for W in self.weights]

    def backprop(self, X, y, out_activation, **kwargs):
        """:func:`_backprop` into ``flat_grad``, which becomes ``flat.grad``."""
        loss, _, _ = _backprop(
            X, y, self.weights, self.intercepts, self.activation, out_activation,
            weight_vector=self.weight_vector,
            out=(self.weight_grads, self.intercept_grads), **kwargs,
        )
        self.flat.grad = self.flat_grad
        return loss

    def forward(self, X):
        return _forward(X, self.coefs, self.intercepts, self.activation)


def _validation_score(z, y, out_activation, sample_weight=None):
    """Accuracy (classifiers) or R^2 (regressors) of raw outputs ``z``.

    Multi-label accuracy is subset accuracy, multi-output R^2 the uniform
    average over outputs, as sklearn's ``accuracy_score`` and ``r2_score``.
    A non-finite prediction gives NaN, as in sklearn. The score is computed
    in float64 for a float32 model too, as sklearn's are (an accuracy of
    7/20 is 0.35, not float32's 0.3499999940395355).
    """
    dtype = torch.float64
    w = sample_weight
    w = torch.ones(z.shape[0], dtype=dtype, device=z.device) if w is None else w.to(dtype)
    if out_activation == "softmax":
        correct = (z.argmax(1) == y).to(dtype)
        return float((correct * w).sum() / w.sum())
    if out_activation == "logistic":
        correct = ((z > 0) == (y > 0.5)).all(1).to(dtype)
        return float((correct * w).sum() / w.sum())
    pred = _OUT_ACTIVATIONS[out_activation](z).to(dtype)
    if not bool(torch.isfinite(pred).all()):
        return math.nan
    y = y.to(dtype)
    w = w[:, None]
    mean = (w * y).sum(0) / w.sum()
    ss_res = (w * (y - pred).square()).sum(0)
    ss_tot = (w * (y - mean).square()).sum(0)
    score = torch.where(
        ss_tot > 0, 1 - ss_res / torch.where(ss_tot > 0, ss_tot, 1), (ss_res == 0).to(dtype)
    )
    return float(score.mean())


def _make_optimizer(solver, params, *, lr, momentum, nesterov, beta_1, beta_2, epsilon):
    """The engine's optimizer matching sklearn's ``solver`` (torch's updates).

    Adam: sklearn's update, ``epsilon`` added to ``sqrt(v)`` (not to the
    bias-corrected ``sqrt(v_hat)`` as torch does; see the engine's
    :class:`Adam`). SGD with (Nesterov) momentum: torch's
    momentum buffer is sklearn's velocity divided by ``-learning_rate``, and
    the engine's :class:`SGD` rescales it when the learning rate changes
    (``"invscaling"``, ``"adaptive"``), so the updates are sklearn's for every
    schedule. torch's single-kernel ``fused`` update is used where this torch
    build has it.
    """
    if solver == "adam":
        return Adam(params, lr=lr, betas=(beta_1, beta_2), eps=epsilon, eps_on_raw_moment=True)
    return SGD(params, lr=lr, momentum=momentum, nesterov=nesterov and momentum > 0)


def _state_to_cpu(value):
    """Deep copy of nested dicts/lists with every tensor moved to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu")
    if isinstance(value, dict):
        return {k: _state_to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_state_to_cpu(v) for v in value)
    return value


class _BaseMLP(CallbackSupportMixin, TorchEstimatorMixin, BaseEstimator):
    """Base of the four perceptron estimators (not for direct use).

    Subclasses define ``_validate_input`` (returns validated ``X`` and a 2-D
    target: class indices or indicator matrix, or real values), ``_targets``
    (the target tensor) and may override ``_network_dropout`` and the hooks
    ``_prepare_fit`` / ``_finish_fit`` (MC dropout standardises there).
    """

    # Sparse formats ``validate_data`` converts X to (``False``: dense only).
    _accept_sparse = False

    # Whether Ctrl-C ends training with the epochs completed (sklearn's
    # behaviour); False where the fit is part of a larger one (MC dropout's
    # cross-fitting networks), which must stop as a whole.
    _interruptible = True
    # Whether the fit gives its warnings (not converged, batch_size clipped);
    # False likewise (an inner fit's say nothing the user can act on beyond
    # the larger fit's own): silenced without a warnings filter, which is
    # not thread-safe.
    _gives_warnings = True
    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
    }

    # -- hooks -------------------------------------------------------------

    def _network_dropout(self):
        return 0.0

    def _trained_attributes(self, network, X, y):
        """Fitted attributes computed from the trained network and the
        (prepared) training tensors, besides the weights (none here)."""
        return {}

    def _prepare_fit(self, X, y, first_pass, rng):
        """Transform validated ``X, y`` before training (identity here)."""
        return X, y

    def _after_training(self, X, y, rng, incremental, max_iter):
        """Finish the fitted state from the validated ``X, y`` once the network
        is trained, before the fit's callback task ends (nothing here).
        ``max_iter``: the fit's, or the epochs run where a callback stopped
        it (the fit stopped there is the fit with that ``max_iter``)."""

    def _to_network_params(self, coefs, intercepts):
        """Fitted ``coefs_`` -> the parameters the network trains (identity)."""
        return coefs, intercepts

    def _from_network_params(self, coefs, intercepts):
        """Trained parameters -> fitted ``coefs_`` (identity)."""
        return coefs, intercepts

    # -- fitting -----------------------------------------------------------

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        # sklearn's exception types: TypeError for non-integers (its
        # range() fails), ValueError for sizes <= 0.
        if not all(isinstance(s, Integral) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"hidden_layer_sizes must be integers, got {sizes}.")
        if not all(s > 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _out_activation(self):
        if not is_classifier(self):
            return "exp" if getattr(self, "loss", "squared_error") == "poisson" else "identity"
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax"
        return "logistic"

    def _initialize(self, n_outputs, layer_units, dtype, generator, device):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._out_activation()
        coefs, intercepts = _init_layers(layer_units, self.activation, generator, dtype, device)
        self.coefs_ = [to_numpy(W).copy() for W in coefs]
        self.intercepts_ = [to_numpy(b).copy() for b in intercepts]
        self._optimizer_state = None
        self._no_improvement_count = 0
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    @unchanged_on_failure  # bad input, a diverging loss, a failing callback
    def _fit(self, X, y, sample_weight=None, incremental=False):
        # Given to callbacks (their scorers take the data as the user passed it).
        data = (X, y)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        hidden = self._hidden_layer_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            # Negative weights are accepted, as sklearn's MLPs accept them.
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
            if sample_weight.sum() == 0:
                raise ValueError(
                    "The sample weights sum to zero: the weighted mean loss is undefined."
                )
        # The loss is a weighted mean and the L2 term alpha / sum(w) (per
        # batch, as sklearn's): weights scaled by a power of two, alpha with
        # them, is the same objective exactly, and weights near 1e308 no
        # longer sum to inf (NaN losses, a DivergenceError).
        alpha = self.alpha
        if sample_weight is not None:
            exponent = pow2_exponent(sample_weight)
            sample_weight = np.ldexp(sample_weight, -exponent)
            with np.errstate(over="ignore"):  # inf for subnormal weights: see below
                alpha = float(np.ldexp(alpha, -exponent))
        y2d = y.reshape(-1, 1) if y.ndim == 1 else y
        n_outputs = self._n_network_outputs(y2d)
        layer_units = [X.shape[1], *hidden, n_outputs]
        fitted_units = None if first_pass else [W.shape[0] for W in self.coefs_]
        if fitted_units is not None and fitted_units + [self.coefs_[-1].shape[1]] != layer_units:
            raise ValueError(
                "warm_start/partial_fit need the same network: the fitted layer sizes are "
                f"{fitted_units + [self.coefs_[-1].shape[1]]}, this call needs {layer_units}."
            )
        rng = check_random_state(self.random_state)
        device = self._resolve_device()
        dtype = X.dtype if first_pass else self.coefs_[0].dtype
        X = X.astype(dtype, copy=False)
        validated = (X, y)
        generator = make_generator(rng, device)
        X, y2d = self._prepare_fit(X, y2d, first_pass, rng)
        if first_pass:
            self._initialize(n_outputs, layer_units, dtype, generator, device)

        # One thread for small networks and batches (see PARALLEL_MIN_WORK).
        with torch_threads(work=self._step_work(X.shape[0])):
            coefs, intercepts = self._to_network_params(
                [as_tensor(W, device).clone() for W in self.coefs_],
                [as_tensor(b, device).clone() for b in self.intercepts_],
            )
            Xt = as_tensor(X, device)
            network = _Network(
                coefs, intercepts, self.activation, sparse_input=Xt.layout is torch.sparse_csr
            )
            yt = self._targets(y2d, device, X.dtype)
            wt = None if sample_weight is None else as_tensor(sample_weight, device)
            # Callbacks (scikit-learn >= 1.9): a task per epoch (per L-BFGS-B
            # iteration with "lbfgs"); partial_fit's one epoch, as sklearn's
            # StandardScaler.partial_fit reports its fit.
            tasks = FitTasks(
                self, *data, max_iter=1 if incremental else self.max_iter,
                metadata=metadata,
                task_name="lbfgs-iter" if self.solver == "lbfgs" else "epoch",
                start=self._fitted_state(network, Xt, yt),
            )
            interrupted = False
            try:
                if self.solver in _STOCHASTIC_SOLVERS:
                    result = self._fit_stochastic(
                        network, Xt, yt, wt, alpha, y2d, rng, generator, incremental, tasks
                    )
                    interrupted, stopped = result.interrupted, result.stopped
                else:
                    stopped = self._fit_lbfgs(network, Xt, yt, wt, alpha, tasks)
            except DivergenceError as error:
                if sample_weight is None:
                    raise
                # Tiny weights make a huge penalty (weights of 1e-310: 1e304).
                raise DivergenceError(
                    f"{error} With sample_weight the L2 term is alpha / sum(sample_weight) "
                    f"(here {alpha / sample_weight.sum():.3g}) times sum ||W||^2 / 2, as in "
                    "scikit-learn: rescale sample_weight or lower alpha."
                ) from error
            self.__dict__.update(self._fitted_state(network, Xt, yt)())
        if not interrupted:  # Ctrl-C stops the whole fit
            self._after_training(*validated, rng, incremental,
                                 self.n_iter_ if stopped else self.max_iter)
        tasks.end()
        return self

    def _fitted_state(self, network, X, y, flat=None, history=None):
        """A callable giving the fitted attributes of ``network`` as it is
        when called (or of the parameter vector ``flat()``): ``coefs_``,
        ``intercepts_`` and the ``_trained_attributes`` of the training
        tensors ``X, y``, and those of ``history()`` (the training so far)."""

        def attributes():
            net = network if flat is None else network.with_vector(flat())
            training = net.training
            net.eval()
            with torch.no_grad():
                coefs, intercepts = self._from_network_params(
                    net.coefs, [b.detach() for b in net.intercepts]
                )
                state = self._trained_attributes(net, X, y)
            net.train(training)
            return {
                **state,
                **({} if history is None else history()),
                "coefs_": [np.array(to_numpy(W), order="C") for W in coefs],
                "intercepts_": [to_numpy(b).copy() for b in intercepts],
            }

        return attributes

    def _n_network_outputs(self, y2d):
        # Classifier targets arrive binarised: one column per output unit.
        return y2d.shape[1]

    def _early_stopping_split(self, n_samples, y2d, rng, incremental):
        """Train/validation row indices (stratified for single-output classifiers)."""
        if not self.early_stopping:
            return None, None
        if incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        # As sklearn: stratified for binary targets only (multi-label cannot be).
        stratify = y2d[:, 0] if is_classifier(self) and self.n_outputs_ == 1 else None
        train_idx, val_idx = train_test_split(
            np.arange(n_samples),
            random_state=rng,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if len(val_idx) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        # In train_test_split's (random) order, as sklearn trains on them:
        # with shuffle=False the minibatches are taken in this order.
        return train_idx, val_idx

    def _fit_stochastic(self, network, Xt, yt, wt, alpha, y2d, rng, generator, incremental,
                        tasks):
        resume = incremental and self._optimizer_state is not None
        # partial_fit goes on with the optimizer it has, as sklearn's keeps its
        # _optimizer object, even after set_params (the state of one solver
        # does not fit the other's update; the learning-rate schedule, its
        # initial rate and power_t stay those the optimizer was made with).
        schedule = (self.solver, self.learning_rate, self.learning_rate_init, self.power_t)
        if resume:
            schedule = getattr(self, "_optimizer_schedule", schedule)
        solver, learning_rate, learning_rate_init, power_t = schedule
        optimizer = _make_optimizer(
            solver,
            [network.flat],
            lr=learning_rate_init,
            momentum=self.momentum,
            nesterov=self.nesterovs_momentum,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
        )
        if resume:
            # Kept in the canonical layout: partial_fit may mix dense and sparse X.
            optimizer.load_state_dict(
                network.relayout_state(self._optimizer_state, to_stored=True)
            )

        train_idx, val_idx = self._early_stopping_split(Xt.shape[0], y2d, rng, incremental)
        data = (Xt, yt) if wt is None else (Xt, yt, wt)
        validation_score = None
        if train_idx is not None:
            tr = as_tensor(train_idx, Xt.device)
            va = as_tensor(val_idx, Xt.device)
            val_data = tuple(take_rows(t, va) for t in data)
            data = tuple(take_rows(t, tr) for t in data)
            if wt is not None:
                for name, part in (("validation", val_data), ("training", data)):
                    if not bool(part[2].sum() != 0):
                        # sklearn divides by zero here (ZeroDivisionError).
                        raise ValueError(
                            f"The sample weights of the {name} split of early_stopping "
                            "sum to zero. Change random_state or validation_fraction, "
                            "or give those samples weight."
                        )

            def validation_score():
                z = network(val_data[0])
                return self._validation_score(z, *val_data[1:])

        n_samples = data[0].shape[0]
        if self.batch_size != "auto" and self.batch_size > n_samples and self._gives_warnings:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is "
                "going to be clipped"
            )
        batch_size = self._batch_rows(n_samples)

        dropout = self._network_dropout()

        @torch.no_grad()
        def batch_loss(X_batch, y_batch, w_batch=None):
            return network.backprop(
                X_batch, y_batch, self.out_activation_, alpha=alpha,
                sample_weight=w_batch, dropout=dropout, generator=generator,
            )

        def on_epoch_end(epoch, loss, returned_state):
            self.t_ += n_samples
            if solver == "sgd" and learning_rate == "invscaling":
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate_init / (self.t_ + 1) ** power_t
            # Callbacks get the model this fit would return if it stopped
            # now (early stopping's best epoch), its training history
            # included, and may stop it.
            return tasks(self._fitted_state(
                network, Xt, yt, lambda: returned_state()["flat"],
                lambda: {**self._training_history(previous, epoch), "t_": self.t_},
            ))

        on_plateau = None
        if solver == "sgd" and learning_rate == "adaptive":

            def on_plateau():  # sklearn's SGD optimizer's trigger_stopping
                lr = optimizer.param_groups[0]["lr"]
                if lr <= _MIN_ADAPTIVE_LR:
                    return False, "Learning rate too small. Stopping."
                for group in optimizer.param_groups:
                    group["lr"] = lr / _ADAPTIVE_DIVISOR
                return True, f"Setting learning rate to {lr / _ADAPTIVE_DIVISOR:f}"

        # getattr: a warm start from an "lbfgs" fit, which keeps no curve
        # (sklearn raises AttributeError there).
        best_loss = getattr(self, "best_loss_", None)
        best_validation_score = getattr(self, "best_validation_score_", None)
        previous = TrainResult(
            loss_curve=list(getattr(self, "loss_curve_", [])),
            validation_scores=list(getattr(self, "validation_scores_", None) or []),
            best_loss=np.inf if best_loss is None else best_loss,
            best_validation_score=(
                None if best_validation_score in (None, -np.inf) else best_validation_score
            ),
            no_improvement=getattr(self, "_no_improvement_count", 0),
        )
        result = train(
            network,
            batch_loss,
            data,
            optimizer=optimizer,
            max_iter=1 if incremental else self.max_iter,
            batch_size=batch_size,
            generator=generator,
            shuffle=self.shuffle,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            validation_score=validation_score,
            on_plateau=on_plateau,
            on_epoch_end=on_epoch_end,
            verbose=bool(self.verbose),
            desc=type(self).__name__,
            result=previous,
            # Ctrl-C keeps the model trained so far, as in sklearn.
            interruptible=self._interruptible,
            warn_convergence=self._gives_warnings,
        )
        if not bool(torch.isfinite(network.flat).all()):
            # The loss is checked before each update; the last update of the
            # last epoch can still overflow (sklearn checks the weights too).
            raise DivergenceError(
                f"{SKLEARN_DIVERGED_MESSAGE} Lower learning_rate_init or standardise "
                "the inputs."
            )
        # Carried across partial_fit / warm_start calls, as sklearn's
        # _no_improvement_count ("adaptive" lowers the rate across calls too).
        self._no_improvement_count = result.no_improvement
        self.__dict__.update(self._training_history(result, result.n_iter))
        self._optimizer_state = (
            network.relayout_state(optimizer.state_dict(), to_stored=False)
            if self._keeps_optimizer_state() else None
        )
        self._optimizer_schedule = schedule
        if (self._gives_warnings and not incremental and not result.converged
                and not result.stopped and result.n_iter == self.max_iter):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
            )
        return result

    def _training_history(self, result, n_iter):
        """sklearn's fitted attributes of the training recorded in ``result``
        (a :class:`~skmath._engine.TrainResult`, complete or being filled),
        ``n_iter`` epochs into this call."""
        history = {"n_iter_": n_iter, "loss_curve_": list(result.loss_curve)}
        if result.loss_curve:  # empty only after a Ctrl-C in the first epoch
            history["loss_"] = result.loss_curve[-1]
        if self.early_stopping:
            best = result.best_validation_so_far()
            history.update(validation_scores_=list(result.validation_scores),
                           best_validation_score_=-np.inf if best is None else best,
                           best_loss_=None)
        else:
            history.update(best_loss_=result.best_loss, validation_scores_=None,
                           best_validation_score_=None)
        return history

    def _keeps_optimizer_state(self):
        return hasattr(self, "partial_fit")

    def _validation_score(self, z, y, w=None):
        return _validation_score(z, y, self.out_activation_, w)

    def _fit_lbfgs(self, network, Xt, yt, wt, alpha, tasks):
        """Full-batch L-BFGS-B (scipy), loss and gradient by :func:`_backprop`.

        Each iterate is a callback task (``tasks``); a callback returning
        True stops L-BFGS-B there. Returns whether one did.
        """

        # A sparse X is transposed once for all the evaluations.
        XT = csr_transpose(Xt) if Xt.layout is torch.sparse_csr else None

        last = {}

        @torch.no_grad()
        def loss_and_grad(theta):
            network.flat.copy_(torch.from_numpy(theta))
            loss = network.backprop(Xt, yt, self.out_activation_, alpha=alpha,
                                    sample_weight=wt, X_transposed=XT)
            last["loss"] = float(loss)
            # A copy: the buffer is overwritten by the next evaluation.
            return last["loss"], np.array(to_numpy(network.flat_grad), dtype=np.float64)

        # verbose: a progress bar of the iterations with the latest loss, as
        # the stochastic solvers show epochs.
        bar = tqdm(total=self.max_iter, desc=type(self).__name__,
                   disable=not self.verbose, leave=False)

        iterations = count(1)

        def callback(theta):
            bar.update()
            if self.verbose:
                bar.set_postfix(loss=f"{last['loss']:.5g}")
            if tasks.active:
                iterate = torch.from_numpy(theta).to(network.flat)
                # L-BFGS-B's last evaluation is the accepted iterate: its loss.
                history = {"n_iter_": next(iterations), "loss_": last["loss"]}
                return tasks(self._fitted_state(
                    network, Xt, yt, lambda: iterate, history=lambda: history
                ))
            return False

        theta0 = to_numpy(network.flat).astype(np.float64)
        try:
            result = minimize_lbfgs(
                loss_and_grad, theta0, maxfun=self.max_fun, maxiter=self.max_iter,
                gtol=self.tol, callback=callback if tasks.active or self.verbose else None,
            )
        finally:
            bar.close()
        loss_and_grad(result.x)  # leave the network at the solution
        network.eval()
        if not np.isfinite(result.fun):
            raise DivergenceError(
                f"{SKLEARN_DIVERGED_MESSAGE} L-BFGS diverged: the loss is {result.fun}. "
                "Standardise the inputs."
            )
        self.n_iter_ = min(int(result.nit), self.max_iter)
        self.loss_ = float(result.fun)
        if not result.success and result.status != STOPPED_BY_CALLBACK:
            _check_optimize_result("lbfgs", result, self.max_iter)  # sklearn's warning
        return result.status == STOPPED_BY_CALLBACK

    # -- prediction --------------------------------------------------------

    def _network_tensors(self, device, dtype, sparse_input=False):
        # Transposed views of (fan_out, fan_in) copies: the fast layout, except
        # for a sparse X's first layer (see _Network).
        coefs = [
            as_tensor(W, device, dtype) if i == 0 and sparse_input
            else as_tensor(np.ascontiguousarray(W.T), device, dtype).T
            for i, W in enumerate(self.coefs_)
        ]
        intercepts = [as_tensor(b, device, dtype) for b in self.intercepts_]
        return coefs, intercepts

    def _validate_predict_X(self, X):
        check_is_fitted(self)
        # dtype "numeric", as sklearn's: strings are refused at prediction.
        # (Objects, from a DataFrame's categorical column of strings, raised
        # KeyError: dtype('O') in the network's dtype lookup.)
        X = self._validate_numeric_X(X, accept_sparse=self._accept_sparse)
        # As sklearn: the product of X and the weights has the wider dtype of
        # the two (float64 X on a float32 model gives float64 predictions);
        # wider than float64 (np.longdouble) computes in float64.
        dtype = np.result_type(X.dtype, self.coefs_[0].dtype)
        if dtype.itemsize <= 8:
            return X.astype(dtype, copy=False)
        with np.errstate(over="ignore"):
            X = X.astype(np.float64)
        if not np.isfinite(X.data if sp.issparse(X) else X).all():
            raise ValueError(
                f"X holds {dtype} values beyond float64's range, in which the "
                "network computes: rescale X."
            )
        return X

    def _row_work(self):
        """Multiply-adds of the network's layer products for one row."""
        return sum(W.size for W in self.coefs_)

    def _batch_rows(self, n_samples):
        """Rows of a minibatch: ``batch_size`` (``"auto"``: at most
        ``_AUTO_BATCH``) clipped to ``[1, n_samples]``, as in sklearn."""
        if self.batch_size == "auto":
            return min(_AUTO_BATCH, n_samples)
        return int(np.clip(self.batch_size, 1, n_samples))

    def _step_work(self, n_samples):
        """Multiply-adds of a training step's layer products: a minibatch's,
        or all the rows' for lbfgs (for :func:`torch_threads`)."""
        rows = n_samples if self.solver == "lbfgs" else self._batch_rows(n_samples)
        return rows * self._row_work()

    def _raw_output(self, X):
        """Validated ``X`` -> raw network output ``z`` (NumPy), blockwise."""
        device = self._predict_device()
        width = max(W.shape[1] for W in self.coefs_)
        rows = block_rows(width, X.dtype.itemsize, device)
        work = min(rows, X.shape[0]) * self._row_work()
        with torch_threads(work=work), torch.no_grad():
            coefs, intercepts = self._network_tensors(device, X.dtype, sparse_input=sp.issparse(X))
            out_activation = _OUT_ACTIVATIONS[self.out_activation_]
            # Written into one array as the blocks come: a list of the blocks'
            # outputs, concatenated at the end, kept them alive between each
            # block's temporaries, and glibc's heap grew (1M x 50 float64,
            # 3 classes: a 1.9 GB peak for a 24 MB result; now 40 MB, and
            # 1.6 s instead of 3.2 s).
            out = np.empty((X.shape[0], self.coefs_[-1].shape[1]), dtype=X.dtype)
            for blk in row_blocks(X.shape[0], rows):
                out[blk] = to_numpy(out_activation(
                    _forward(as_tensor(X[blk], device), coefs, intercepts, self.activation)
                ))
        return out

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("_optimizer_state") is not None:
            state["_optimizer_state"] = _state_to_cpu(state["_optimizer_state"])
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = bool(self._accept_sparse)
        return tags
