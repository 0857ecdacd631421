"""``NTKKernel``: the infinite-width network kernels as a scikit-learn kernel."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.gaussian_process.kernels import Kernel
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import check_array

from .._engine import as_tensor, resolve_device, to_numpy, torch_threads
from ._kernels import ACTIVATIONS, nngp_ntk, nngp_ntk_diag

#: Constraints shared by NTKKernel and NTKRegressor.
ARCHITECTURE_CONSTRAINTS = {
    "depth": [Interval(Integral, 0, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "weight_std": [Interval(Real, 0, None, closed="neither")],
    "bias_std": [Interval(Real, 0, None, closed="left")],
    "kernel": [StrOptions({"ntk", "nngp"})],
    "device": [str, torch.device],
}


def architecture(estimator):
    """The keyword arguments of :func:`nngp_ntk` held by ``estimator``."""
    return dict(
        depth=int(estimator.depth),
        activation=estimator.activation,
        weight_std=float(estimator.weight_std),
        bias_std=float(estimator.bias_std),
    )


class NTKKernel(Kernel):
    """Neural tangent kernel or NNGP kernel of an infinitely wide network.

    The network is fully connected: ``depth`` hidden layers (Dense followed
    by ``activation``) and a Dense readout, in the NTK parameterisation with
    weight and bias standard deviations ``weight_std`` and ``bias_std``. The
    values are those of neural-tangents'
    ``stax.serial(Dense(W_std=weight_std, b_std=bias_std), Relu(), ...,
    Dense(W_std=weight_std, b_std=bias_std))`` kernel function.

    The kernel can be used wherever scikit-learn takes a kernel object or a
    callable: ``GaussianProcessRegressor(kernel=NTKKernel())``,
    ``SVC(kernel=NTKKernel())``, or combined with other kernels
    (``ConstantKernel() * NTKKernel() + WhiteKernel()``). Its parameters are
    not hyperparameters for the marginal-likelihood optimiser (they are fixed,
    like a kernel whose bounds are ``"fixed"``); tune them with
    :class:`~sklearn.model_selection.GridSearchCV`.

    Parameters
    ----------
    depth : int, default=1
        Number of hidden layers. ``0`` gives the linear kernel
        ``weight_std**2 * x @ y / n_features + bias_std**2``.
    activation : {"relu", "erf", "gelu"}, default="relu"
        Nonlinearity of the hidden layers.
    weight_std : float, default=1.0
        Weight standard deviation :math:`\\sigma_w` of every Dense layer.
    bias_std : float, default=1.0
        Bias standard deviation :math:`\\sigma_b` of every Dense layer. With
        standardised inputs, ``bias_std`` comparable to ``weight_std`` spreads
        the ReLU kinks over the range of the data (neural-tangents' ``Dense``
        has no bias by default, i.e. ``bias_std=0``).
    kernel : {"ntk", "nngp"}, default="ntk"
        ``"ntk"``: the neural tangent kernel (training dynamics of gradient
        descent); ``"nngp"``: the neural network Gaussian process kernel (the
        output covariance of the network at initialisation).
    device : str or torch.device, default="auto"
        Where the kernel is computed: ``"auto"`` (CUDA when available, else
        CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. Results are NumPy arrays.

    See Also
    --------
    NTKRegressor : Kernel regression with this kernel, with the NTK ensemble's
        predictive covariance.
    sklearn.gaussian_process.kernels.RBF : A stationary kernel to compare with.

    Notes
    -----
    The kernel is computed in float64 whatever the input dtype, in blocks of
    at most ``2**15`` entries on CPU so memory stays bounded, from the layer
    recursion in ``skmath.ntk._kernels`` (arc-cosine formulas for ReLU,
    Gaussian-expectation closed forms for erf and GELU). On CPU the blocks
    of a kernel of at least ``2**21`` entries are shared among
    ``torch.get_num_threads()`` Python threads, each running single-threaded
    torch operations on cache-sized blocks (smaller ones use torch's own
    threads inside each operation).

    Accuracy: the values agree with neural-tangents' to about 1e-15 relative
    except for the ReLU NTK between (nearly) equal inputs: there the
    arc-cosine kernel is not differentiable (its angle is a square root of
    :math:`1 - \\rho`), so a rounding error of one ulp in :math:`x \\cdot x'`
    becomes about ``sqrt(eps) ~ 1e-8`` in the kernel, in both libraries.
    The diagonal of ``k(X)`` is computed exactly, and so is every entry of
    ``k(X, Y)`` between a row of ``X`` and an equal row of ``Y`` (so
    ``k(X, X)`` has ``k(X)``'s diagonal, and a Gaussian process's std at its
    training points is ``sqrt(alpha)`` when ``alpha`` is small against the
    kernel matrix's eigenvalues); between nearly equal distinct rows
    the error remains.

    References
    ----------
    .. [1] A. Jacot, F. Gabriel, C. Hongler, "Neural Tangent Kernel:
       Convergence and Generalization in Neural Networks", NeurIPS 2018.
    .. [2] J. Lee et al., "Deep Neural Networks as Gaussian Processes",
       ICLR 2018.
    .. [3] R. Novak et al., "Neural Tangents: Fast and Easy Infinite Neural
       Networks in Python", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skmath import NTKKernel
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> k = NTKKernel(depth=1, weight_std=1.5, bias_std=0.1, device="cpu")
    >>> k(X).round(4)
    array([[2.5637, 0.4277, 2.3318],
           [0.4277, 2.5637, 2.3318],
           [2.3318, 2.3318, 5.095 ]])
    >>> k.diag(X).round(4)
    array([2.5637, 2.5637, 5.095 ])
    """

    def __init__(
        self,
        depth=1,
        *,
        activation="relu",
        weight_std=1.0,
        bias_std=1.0,
        kernel="ntk",
        device="auto",
    ):
        self.depth = depth
        self.activation = activation
        self.weight_std = weight_std
        self.bias_std = bias_std
        self.kernel = kernel
        self.device = device

    def _checked(self, X, Y=None):
        validate_parameter_constraints(
            ARCHITECTURE_CONSTRAINTS, self.get_params(deep=False), type(self).__name__
        )
        X = check_array(X, dtype=np.float64)
        if Y is not None:
            Y = check_array(Y, dtype=np.float64)
            if Y.shape[1] != X.shape[1]:
                raise ValueError(
                    f"X has {X.shape[1]} features but Y has {Y.shape[1]}; the "
                    "kernel needs the same number of features in both."
                )
        return X, Y

    def __call__(self, X, Y=None, eval_gradient=False):
        """Return the kernel matrix ``k(X, Y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
            Left argument.
        Y : array-like of shape (n_samples_Y, n_features), default=None
            Right argument; ``None`` computes ``k(X, X)`` (and uses its
            symmetry to do half the work).
        eval_gradient : bool, default=False
            Whether to also return the gradient with respect to the log of the
            hyperparameters; the kernel has none, so it is an empty array.
            Only allowed when ``Y`` is None.

        Returns
        -------
        K : ndarray of shape (n_samples_X, n_samples_Y)
            Kernel ``k(X, Y)`` (the NTK or the NNGP kernel, per ``kernel``).
        K_gradient : ndarray of shape (n_samples_X, n_samples_X, 0)
            Only when ``eval_gradient`` is True.
        """
        if eval_gradient and Y is not None:
            raise ValueError("Gradient can only be evaluated when Y is None.")
        X, Y = self._checked(X, Y)
        device = resolve_device(self.device)
        with torch_threads():
            Xt = as_tensor(X, device)
            Yt = None if Y is None else as_tensor(Y, device)
            nngp, ntk = nngp_ntk(
                Xt, Yt, compute_ntk=self.kernel == "ntk", **architecture(self)
            )
            K = to_numpy(ntk if self.kernel == "ntk" else nngp)
        if eval_gradient:
            return K, np.empty((X.shape[0], X.shape[0], 0))
        return K

    def diag(self, X):
        """Return the diagonal ``k(x, x)`` of the kernel, in O(n_samples * n_features).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Argument of the kernel.

        Returns
        -------
        K_diag : ndarray of shape (n_samples,)
            Diagonal of ``k(X, X)``, without computing the whole matrix.
        """
        X, _ = self._checked(X)
        with torch_threads():
            nngp, ntk = nngp_ntk_diag(as_tensor(X, resolve_device(self.device)), **architecture(self))
            return to_numpy(ntk if self.kernel == "ntk" else nngp)

    def is_stationary(self):
        """Whether the kernel is stationary (a function of ``x - x'`` alone).

        Returns
        -------
        is_stationary : bool
            False: the NTK and NNGP kernels depend on the inputs' norms and
            angle, not on their difference.
        """
        return False

    def __eq__(self, other):
        # sklearn's Kernel.__eq__ compares parameters with ==, for which the
        # string "cpu" and torch.device("cpu") differ; compared by name here.
        if type(self) is not type(other):
            return False
        a, b = self.get_params(), other.get_params()
        a["device"], b["device"] = str(a["device"]), str(b["device"])
        return a == b

    def __repr__(self):
        return (
            f"{type(self).__name__}(depth={self.depth}, activation={self.activation!r}, "
            f"weight_std={self.weight_std}, bias_std={self.bias_std}, kernel={self.kernel!r}"
            + ("" if isinstance(self.device, str) and self.device == "auto"
               else f", device={str(self.device)!r}")
            + ")"
        )
