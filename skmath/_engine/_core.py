"""The shared torch layer: devices, dtypes, seeds, conversion, threads, pickling.

Every skmath estimator goes through these few functions, so that "which device",
"which dtype", "which random stream" and "how is it pickled" have one answer.
"""

import copy
import functools
import math
import os
import platform
import re
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_array, check_random_state
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import validate_data

_DEVICE_PATTERN = re.compile(r"auto|cpu(:0)?|cuda(:\d+)?")

_NUMPY_TO_TORCH = {
    np.dtype(np.float64): torch.float64,
    np.dtype(np.float32): torch.float32,
    np.dtype(np.int64): torch.int64,
    np.dtype(np.int32): torch.int32,
    np.dtype(np.bool_): torch.bool,
}


def resolve_device(device):
    """Turn a ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"cuda:N"``.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the string is not a device skmath knows, or names a CUDA device that
        this machine does not have.

    Examples
    --------
    >>> from skmath._engine import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not _DEVICE_PATTERN.fullmatch(device):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}."
        )
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device in ("cpu", "cpu:0"):  # torch.device("cpu", 0) prints as "cpu:0"
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu' or device='auto'."
        )
    dev = torch.device(device)
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} was requested but only "
            f"{torch.cuda.device_count()} CUDA device(s) are available."
        )
    return dev


def torch_dtype(dtype):
    """The torch dtype matching a NumPy dtype (float64 stays float64)."""
    return _NUMPY_TO_TORCH[np.dtype(dtype)]


_TORCH_TO_NUMPY = {value: key for key, value in _NUMPY_TO_TORCH.items()}


#: Memory of one block of row-wise work. On CPU it is cache-sized: a block's
#: temporaries stay in cache from one operation to the next, and fresh
#: multi-megabyte temporaries would cost page faults (measured: KMeans passes,
#: perceptron predictions 83 ms in one block against 53 ms in 4 MB blocks). On
#: GPU it is large (fewer kernel launches) and only bounds memory.
CPU_BLOCK_BYTES = 1 << 22
GPU_BLOCK_BYTES = 1 << 28


def block_rows(values_per_row, itemsize, device, *, large=False, min_rows=1):
    """Rows per block, so that ``rows x values_per_row`` values fit the block budget.

    Parameters
    ----------
    values_per_row : int
        Values a block holds per row (its widest temporary).
    itemsize : int
        Bytes per value.
    device : torch.device
    large : bool, default=False
        The GPU budget on CPU too: few operations on large blocks suit work
        that is not cache-bound, such as gathering scattered rows.
    min_rows : int, default=1

    Returns
    -------
    int

    Examples
    --------
    >>> import torch
    >>> from skmath._engine import block_rows
    >>> block_rows(256, 4, torch.device("cpu"))
    4096
    """
    budget = CPU_BLOCK_BYTES if device.type == "cpu" and not large else GPU_BLOCK_BYTES
    return max(min_rows, budget // (itemsize * max(values_per_row, 1)))


def row_blocks(n_rows, rows):
    """Slices covering ``range(n_rows)`` in blocks of ``rows`` rows.

    Examples
    --------
    >>> row_blocks(5, 2)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    return [slice(start, min(start + rows, n_rows)) for start in range(0, n_rows, rows)]


def pow2_exponent(a):
    """The exponent ``e`` with ``max |a|`` in ``[2^(e-1), 2^e)``, as ``frexp`` gives
    it (0 for an all-zero or empty ``a``): dividing ``a`` by ``2^e`` is exact and
    brings its largest magnitude into ``[1/2, 1)``.

    ``a`` is a number, a NumPy array, a tensor, or a sparse CSR tensor (its
    stored values).

    Examples
    --------
    >>> pow2_exponent([0.75, -3.0])
    2
    >>> pow2_exponent(0.0)
    0
    """
    if isinstance(a, torch.Tensor):
        values = a.values() if a.layout is torch.sparse_csr else a
        if values.numel() == 0:
            return 0
        return int(torch.frexp(values.abs().max()).exponent)
    return int(np.frexp(np.abs(np.asarray(a, dtype=np.float64)).max(initial=0.0))[1])


def empty(shape, *, dtype, device):
    """An uninitialised tensor, like :func:`torch.empty`, cheaper when large on CPU.

    On CPU the buffer comes from NumPy's allocator, which asks Linux for
    transparent huge pages on large arrays: writing a fresh 50 MB buffer then
    costs a few hundred page faults instead of twelve thousand (measured: 3 ms
    instead of 19 ms for 200000 x 32 float64 on the 2-core development VM).
    Use it for the large intermediate arrays of a fit; on GPU it is
    :func:`torch.empty`.

    Parameters
    ----------
    shape : tuple of int
    dtype : torch.dtype
    device : torch.device

    Returns
    -------
    Tensor

    Examples
    --------
    >>> import torch
    >>> from skmath._engine import empty
    >>> empty((2, 3), dtype=torch.float32, device=torch.device("cpu")).shape
    torch.Size([2, 3])
    """
    if device.type == "cpu" and dtype in _TORCH_TO_NUMPY:
        return torch.from_numpy(np.empty(shape, dtype=_TORCH_TO_NUMPY[dtype]))
    return torch.empty(shape, dtype=dtype, device=device)


def as_tensor(array, device, dtype=None):
    """NumPy array -> tensor on ``device``, without a copy when none is needed.

    On CPU with a C-contiguous array of the right dtype the tensor shares the
    array's memory, so callers must never modify it in place (skmath never
    modifies its inputs). A SciPy sparse matrix becomes a sparse CSR tensor
    (:func:`take_rows` gathers its minibatches).

    Parameters
    ----------
    array : ndarray or scipy.sparse matrix
        Validated input.
    device : torch.device
        Where the tensor lives.
    dtype : numpy or torch dtype, default=None
        Target dtype; ``None`` keeps the array's dtype.
    """
    if sp.issparse(array):
        return _csr_tensor(array, device, dtype)
    if isinstance(array, torch.Tensor):
        tensor = array
    else:
        array = np.asarray(array)
        if not array.flags.c_contiguous:
            array = np.ascontiguousarray(array)  # (ndim >= 1: only where needed)
        tensor = _from_numpy(array)
    if dtype is not None and not isinstance(dtype, torch.dtype):
        dtype = torch_dtype(dtype)
    return tensor.to(device=device, dtype=dtype)


def _from_numpy(array):
    """``torch.from_numpy``, on a copy where ``array`` is read-only (torch warns
    on those: joblib's workers get read-only memory-mapped inputs, dense or
    the arrays of a sparse matrix)."""
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def canonical_csr(X):
    """``X``, or a SciPy sparse ``X`` in canonical CSR format (sorted, no duplicates).

    Computations over the stored entries (row norms, counts of stored
    entries, canonical keys) need each entry once and, for identical rows to
    give identical sums, in column order. A copy is made only when ``X`` is
    not canonical: ``X`` is never modified.
    """
    if sp.issparse(X):
        X = X.tocsr()  # X itself when CSR already
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
    return X


def column_mean_std(A):
    """Column means and (population) standard deviations of a dense or sparse ``A``.

    Accumulated in float64, as sklearn's ``StandardScaler`` (in float32 the
    mean of 300 copies of -1e8 came out as -99999784, std 216), and in units
    of a power of two near each column's largest magnitude (an exact
    rescaling), so that no finite values overflow (squares beyond 1e154) or
    lose digits to underflow (below 1e-154). Dense columns are measured
    about their first entry: a constant column has mean exactly that value
    and std exactly 0, at any magnitude (the mean of twelve copies of 1e300
    otherwise rounds, and the std comes out 1.5e284). Stored duplicates of a
    sparse ``A`` count as their sum, as in scipy. Returned in ``A``'s dtype if
    float32 or float64, else in float64; ``A`` is not modified.

    Examples
    --------
    >>> import numpy as np
    >>> column_mean_std(np.array([[1e200, 2.0], [3e200, 2.0]]))
    (array([2.e+200, 2.e+000]), array([1.e+200, 0.e+000]))
    """
    dtype = A.dtype if A.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    if sp.issparse(A):
        A = sp.csr_matrix(A, dtype=np.float64, copy=True)
        A.sum_duplicates()
        largest = np.asarray(abs(A).max(axis=0).todense()).ravel()
    else:
        A = np.asarray(A, dtype=np.float64)
        largest = np.abs(A).max(axis=0)
    exponent = np.floor(np.log2(largest, out=np.zeros_like(largest), where=largest > 0))
    unit = np.exp2(np.clip(exponent, -1022, 1023))  # normal numbers: 1 / unit is finite
    if sp.issparse(A):
        mean, var = mean_variance_axis(A @ sp.diags(1 / unit), axis=0)
        std = np.sqrt(var)
    else:
        A = A / unit
        first = A[0].copy()
        A -= first  # in (-4, 4): exact where the column is constant
        mean, std = A.mean(axis=0) + first, A.std(axis=0)
    return (mean * unit).astype(dtype, copy=False), (std * unit).astype(dtype, copy=False)


def constant_columns(mean, std):
    """Columns constant up to rounding, from :func:`column_mean_std`'s results.

    ``std <= 10 eps |mean|``, ``eps`` of their dtype: relative to the
    column's magnitude, as sklearn's ``_is_constant_feature`` (an absolute
    threshold calls every column of tiny values constant).
    """
    return std <= 10 * np.finfo(mean.dtype).eps * np.abs(mean)


def _csr_tensor(matrix, device, dtype=None):
    """SciPy sparse matrix -> sparse CSR tensor on ``device``.

    The indices keep 32 bits where they fit (SciPy's own choice, without a
    copy on CPU); 64 bits beyond. A matrix with duplicate or unsorted
    entries is made canonical first (:func:`canonical_csr`, a copy): torch's
    sparse products assume it (newton-cholesky's sparse Gram matrix crashed
    the process, a segmentation fault, on a CSR whose entries were stored
    twice).
    """
    matrix = canonical_csr(matrix)
    dtype = matrix.dtype if dtype is None else dtype
    if not isinstance(dtype, torch.dtype):
        dtype = torch_dtype(dtype)
    fits = max(matrix.nnz, *matrix.shape) < np.iinfo(np.int32).max
    index_dtype = np.int32 if fits else np.int64
    parts = [
        _from_numpy(np.asarray(a, dtype=index_dtype)).to(device)
        for a in (matrix.indptr, matrix.indices)
    ]
    values = _from_numpy(matrix.data).to(device=device, dtype=dtype)
    return csr_from_parts(*parts, values, matrix.shape)


def _silence_csr_beta_warning():
    """Trigger, at import and under a filter, torch's once-per-process
    warning that its sparse CSR layout is beta (the products the estimators
    use, sparse @ dense and dense @ sparse, are stable). Not at the first
    construction inside a fit: ``catch_warnings`` changes the process's
    filters, which a fit running in another thread (KMeans builds CSR blocks
    in worker threads) or the user's own code would see changed."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        index = torch.zeros(2, dtype=torch.int64, device="cpu")
        torch.sparse_csr_tensor(index, index[:0], torch.zeros(0, device="cpu"), size=(1, 1),
                                check_invariants=False)


_silence_csr_beta_warning()


def csr_from_parts(crow_indices, col_indices, values, shape):
    """A sparse CSR tensor from its three arrays (no invariant checks)."""
    return torch.sparse_csr_tensor(
        crow_indices, col_indices, values, size=shape, check_invariants=False
    )


def csr_with_values(tensor, values):
    """A sparse CSR tensor with ``tensor``'s sparsity pattern and new ``values``
    (e.g. ``tensor.values() * scale.index_select(0, tensor.col_indices())``
    scales its columns)."""
    return csr_from_parts(tensor.crow_indices(), tensor.col_indices(), values, tensor.shape)


def transpose_for(X, A):
    """``A^T`` laid out as the right operand of ``X @ A^T``.

    A transposed view for dense ``X`` (BLAS reads it as it is); a contiguous
    copy for a sparse CSR ``X``, whose products would otherwise copy the view
    on every call.
    """
    return A.T.contiguous() if X.layout is torch.sparse_csr else A.T


def row_slice(tensor, start, stop):
    """Rows ``start:stop`` of a tensor: a view, also for a sparse CSR tensor
    (whose row slice shares its column indices and values).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> X = as_tensor(sp.csr_matrix(np.arange(6.0).reshape(3, 2)), torch.device("cpu"))
    >>> row_slice(X, 1, 3).to_dense()
    tensor([[2., 3.],
            [4., 5.]], dtype=torch.float64)
    """
    if tensor.layout is not torch.sparse_csr:
        return tensor[start:stop]
    crow = tensor.crow_indices()[start : stop + 1]
    first, last = int(crow[0]), int(crow[-1])
    return csr_from_parts(
        crow - first,
        tensor.col_indices()[first:last],
        tensor.values()[first:last],
        (crow.shape[0] - 1, tensor.shape[1]),
    )


def take_rows(tensor, index):
    """Rows ``index`` of a tensor: a plain gather, also for sparse CSR tensors.

    ``index_select`` is several times cheaper per minibatch than advanced
    indexing ``tensor[index]`` on CPU; torch has no row gather for CSR, so
    the selected rows' slices of ``col_indices`` and ``values`` are gathered
    here: output entry ``j`` of row ``r`` is input entry
    ``crow[index[r]] + j - new_crow[r]``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> X = as_tensor(sp.csr_matrix(np.arange(6.0).reshape(3, 2)), torch.device("cpu"))
    >>> take_rows(X, torch.tensor([2, 0])).to_dense()
    tensor([[4., 5.],
            [0., 1.]], dtype=torch.float64)
    """
    if tensor.layout is not torch.sparse_csr:
        return tensor.index_select(0, index)
    crow = tensor.crow_indices()
    starts = crow.index_select(0, index)
    lengths = crow.index_select(0, index + 1) - starts
    new_crow = torch.zeros(index.shape[0] + 1, dtype=crow.dtype, device=crow.device)
    torch.cumsum(lengths, 0, out=new_crow[1:])
    nnz = int(new_crow[-1])
    source = torch.repeat_interleave(starts - new_crow[:-1], lengths, output_size=nnz)
    source += torch.arange(nnz, dtype=crow.dtype, device=crow.device)
    return csr_from_parts(
        new_crow,
        tensor.col_indices().index_select(0, source),
        tensor.values().index_select(0, source),
        (index.shape[0], tensor.shape[1]),
    )


# Products whose every dimension is at least this go to oneDNN (see `linear`);
# smaller ones (a 3-class output layer) are faster in the BLAS.
_ONEDNN_MIN_DIM = 16


@functools.cache
def _cpu_vendor():
    """The x86 CPU's vendor string (``"GenuineIntel"``, ``"AuthenticAMD"``...), or ``""``.

    Read from ``/proc/cpuinfo`` on Linux and from ``platform.processor()``
    elsewhere (Windows names the vendor there); ``""`` when neither says.
    """
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    match = re.search(r"GenuineIntel|AuthenticAMD|HygonGenuine", platform.processor())
    return match.group(0) if match else ""


@functools.cache
def _onednn_op():
    """``torch.ops.mkldnn._linear_pointwise`` if this torch has it working, else None.

    The op torch's own compiler emits for CPU linear layers (float32
    ``x @ weight.T + bias``). It is probed once (it must exist, run and agree
    with ``addmm``) so that a torch build without it, or with another
    signature, falls back to the BLAS instead of failing.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None  # measured on x86-64 only
    try:
        op = torch.ops.mkldnn._linear_pointwise
        # The probe is of float32 products on the CPU, whatever torch's defaults.
        cpu = {"dtype": torch.float32, "device": "cpu"}
        x = torch.arange(12.0, **cpu).reshape(3, 4)
        weight = torch.arange(8.0, **cpu).reshape(2, 4).T.contiguous().T  # transposed
        bias = torch.tensor([1.0, -1.0], **cpu)
        if torch.equal(op(x, weight, bias, "none", [], ""), torch.addmm(bias, x, weight.T)):
            return op
    except Exception:  # noqa: BLE001 - any failure means "not available"
        pass
    return None


@functools.cache
def _onednn_linear():
    """:func:`_onednn_op` on CPUs where it beats the BLAS, else None.

    That is an x86-64 CPU with AVX-512 from a vendor other than Intel: the
    MKL BLAS behind ``addmm`` runs its AVX-512 kernels on Intel CPUs only
    (AVX2 elsewhere), while oneDNN uses AVX-512 on any. Measured with 256-row
    batches and 256 x 256 weights on 2 cores: on AMD Zen 4, 90 us (oneDNN)
    against 160 us (MKL) a product; on an Intel Xeon with AVX-512, 109 us
    against 101 us, so Intel CPUs keep MKL (and CPUs without AVX-512, where
    both run AVX2 kernels, were not measured).
    """
    if torch.backends.cpu.get_cpu_capability() != "AVX512":
        return None
    if _cpu_vendor() in ("", "GenuineIntel"):
        return None
    return _onednn_op()


def linear(x, weight, bias=None, *, beta=1.0, out=None):
    """``beta * bias + x @ weight.T`` (``torch.addmm``), in oneDNN for CPU float32.

    On a CPU where oneDNN beats the BLAS (x86-64 with AVX-512, not Intel:
    see :func:`_onednn_linear`), for dense float32 operands of at least
    ``_ONEDNN_MIN_DIM`` in every dimension and a row-major ``x``, the product
    runs in oneDNN, whose float32 kernels use AVX-512 on every x86 CPU that
    has it, where the MKL BLAS behind ``addmm`` runs AVX2 kernels on AMD
    CPUs. Measured on 2 Zen 4 cores (256-row batches, 256 x 256 weights): 90
    us against 160 us a product, with the same float32 accuracy (relative
    errors 5e-7 and 3e-7 against float64). oneDNN copies a transposed ``x``
    first (a weight gradient ``delta.T @ h``: 155 us against MKL's 177 us for
    256 x 256, but 81 us against 52 us for 256 x 50), so MKL keeps those.
    Under autograd the oneDNN product has the gradients ``addmm``'s would
    have (``out`` and ``beta`` then take ``addmm``). Everything else
    (Intel and non-x86 CPUs, float64, GPU, sparse ``x``, small products,
    ``torch.backends.mkldnn.flags(enabled=False)``) is
    ``torch.addmm(bias, x, weight.T, beta=beta, out=out)`` (``torch.mm``
    without ``bias``).

    Parameters
    ----------
    x : Tensor, shape (n, k)
        Dense or sparse CSR.
    weight : Tensor, shape (m, k)
        Any strides (a transposed view is read as such, not copied).
    bias : Tensor of shape (m,) or (n, m), or None
    beta : float, default=1.0
    out : Tensor of shape (n, m) or None

    Returns
    -------
    Tensor, shape (n, m)

    Examples
    --------
    >>> x, weight = torch.ones(32, 20), torch.ones(24, 20)
    >>> linear(x, weight, torch.ones(24))[0, :3]
    tensor([21., 21., 21.])
    """
    if _onednn_applies(x, weight):
        op = _onednn_linear()
        simple = out is None and beta == 1.0 and (bias is None or bias.dim() == 1)
        if torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (x, weight, bias)
        ):
            if simple:
                return _OneDNNLinear.apply(x, weight, bias)
        elif simple:
            return op(x, weight, bias, "none", [], "")
        else:
            product = op(x, weight, None, "none", [], "")
            if bias is None:
                return out.copy_(product)
            return torch.add(product, bias, alpha=beta, out=out)
    if bias is None:
        return torch.mm(x, weight.T, out=out)
    return torch.addmm(bias, x, weight.T, beta=beta, out=out)


def _onednn_applies(x, weight):
    """Whether :func:`linear` sends ``x @ weight.T`` to oneDNN (see there)."""
    return (
        x.dtype is torch.float32
        and weight.dtype is torch.float32
        and x.is_cpu
        and x.layout is torch.strided
        and weight.layout is torch.strided
        and x.is_contiguous()
        and min(x.shape[0], x.shape[1], weight.shape[0]) >= _ONEDNN_MIN_DIM
        and torch.backends.mkldnn.enabled
        and _onednn_linear() is not None
    )


class _OneDNNLinear(torch.autograd.Function):
    """oneDNN's ``x @ weight.T + bias`` with the gradients ``addmm`` would give.

    ``dx = g @ weight`` and ``dweight = g.T @ x`` go through :func:`linear`
    again (so ``dx`` runs in oneDNN, ``dweight``, with a transposed left
    operand, in the BLAS), ``dbias`` sums ``g`` over rows.
    """

    @staticmethod
    def forward(x, weight, bias):
        return _onednn_linear()(x, weight, bias, "none", [], "")

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, weight, bias = inputs
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = linear(grad, weight.T) if ctx.needs_input_grad[0] else None
        grad_weight = linear(grad.T, x.T) if ctx.needs_input_grad[1] else None
        grad_bias = grad.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


def csr_transpose(tensor):
    """Transpose of a sparse CSR tensor, as a CSR tensor (``X^T`` for ``X^T @ dense``).

    Sparse kernels multiply a CSR matrix by a dense one fast; ``X.t()`` alone
    is a CSC view that torch converts on every product. On the CPU the
    transpose is SciPy's counting sort, O(nnz) (torch's conversion sorts:
    300 ms against 7 ms for a million entries); on a GPU, torch's.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> X = as_tensor(sp.csr_matrix(np.array([[1.0, 0.0], [2.0, 3.0]])), torch.device("cpu"))
    >>> csr_transpose(X).to_dense()
    tensor([[1., 2.],
            [0., 3.]], dtype=torch.float64)
    """
    if tensor.device.type != "cpu":
        return tensor.t().to_sparse_csr()
    parts = (tensor.values(), tensor.col_indices(), tensor.crow_indices())
    matrix = sp.csr_matrix(tuple(p.numpy() for p in parts), shape=tuple(tensor.shape))
    return _csr_tensor(matrix.T.tocsr(), tensor.device)


def to_numpy(tensor):
    """Tensor (any device) -> NumPy array on the host."""
    return tensor.detach().cpu().numpy()


def seed_from(random_state):
    """Draw a 63-bit integer seed from a sklearn ``random_state``.

    ``None``, an int or a :class:`numpy.random.RandomState` are accepted, as
    everywhere in scikit-learn; the same int always gives the same seed.
    """
    rng = check_random_state(random_state)
    return int(rng.randint(np.iinfo(np.int32).max)) * (2**31) + int(
        rng.randint(np.iinfo(np.int32).max)
    )


def make_generator(random_state, device):
    """A local :class:`torch.Generator` on ``device`` seeded from ``random_state``.

    skmath never touches torch's global random state: every random draw in a
    fit or a prediction goes through a generator made here.

    Examples
    --------
    >>> import torch
    >>> from skmath._engine import make_generator
    >>> g1 = make_generator(0, torch.device("cpu"))
    >>> g2 = make_generator(0, torch.device("cpu"))
    >>> bool(torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2)))
    True
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(seed_from(random_state))
    return generator


def thread_budget():
    """Number of CPU threads torch may use in this process.

    Worker processes started by joblib (loky) or dask set ``OMP_NUM_THREADS``
    (or its MKL/OpenBLAS siblings) to their share of the cores; torch must stay
    inside that share, or ``GridSearchCV(n_jobs=k)`` oversubscribes the machine.
    """
    budget = torch.get_num_threads()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            budget = min(budget, int(value))
    return max(budget, 1)


# torch's intra-op thread count (OpenMP's) is a setting of each Python thread:
# the limits of the blocks running now in this thread (nested), and the count
# before the first of them, restored when the last one leaves. Per thread, so
# that fits running concurrently in other threads neither see nor restore it.
_THREAD_STATE = threading.local()


def _thread_limits():
    state = _THREAD_STATE
    if not hasattr(state, "limits"):
        state.limits, state.saved = [], None
    return state


@contextmanager
def _at_most_threads(limit):
    """This thread's torch intra-op threads at most ``limit`` (and at most
    every enclosing block's limit) for the block; on exit the enclosing
    blocks' limits apply again, and the last block restores the original
    count."""
    state = _thread_limits()
    limit = max(int(limit), 1)
    if not state.limits:
        state.saved = torch.get_num_threads()
    state.limits.append(limit)
    target = min([state.saved, *state.limits])
    if torch.get_num_threads() != target:
        torch.set_num_threads(target)
    try:
        yield
    finally:
        state.limits.pop()
        target = min([state.saved, *state.limits])
        if torch.get_num_threads() != target:
            torch.set_num_threads(target)


# Multiply-adds of a computation's typical operation (a minibatch's layer
# products, a sparse product) below which torch runs it on one thread: each
# parallel operation synchronises torch's threads, which costs more than a
# second thread gains on small operations (an MLP step of 1e6 multiply-adds
# took 10% longer on two threads, one of 3.3e6 19% less), and when another
# process holds a core every operation waits for it to be scheduled (small
# MLP, KMeans and sparse LinearRegression fits ran 7-97x slower than
# sklearn's on a busy 2-core machine, and as fast on one thread).
PARALLEL_MIN_WORK = 1 << 21


def torch_threads(work=None):
    """Run a block with torch limited to :func:`thread_budget` threads, or to
    one when ``work`` (multiply-adds of the block's typical operation) is
    below ``PARALLEL_MIN_WORK``."""
    if work is not None and work < PARALLEL_MIN_WORK:
        return _at_most_threads(1)
    return _at_most_threads(thread_budget())


def single_threaded_torch():
    """Run a block with torch's intra-op threads set to 1 (see
    :func:`_at_most_threads`: nested blocks restore the enclosing setting,
    and blocks in other Python threads are independent)."""
    return _at_most_threads(1)


# scikit-learn's callback context (>= 1.9): its _fit_context tears the
# callbacks down from it after the fit, failed or not.
_CALLBACK_STATE = ("_callback_fit_ctx", "_skl_callbacks_to_teardown")


def unchanged_on_failure(fit):
    """Decorate a fit method: a call that raises leaves the estimator as it was.

    Attributes the call set are removed and those it changed restored (a
    failed refit does not leave a model mixing two fits, nor the new call's
    ``n_features_in_``), except scikit-learn's callback context, which its
    ``_fit_context`` (applied outside this decorator) still needs.
    """

    @functools.wraps(fit)
    def wrapper(estimator, *args, **kwargs):
        before = dict(estimator.__dict__)
        try:
            return fit(estimator, *args, **kwargs)
        except BaseException:
            kept = {key: value for key, value in estimator.__dict__.items()
                    if key in _CALLBACK_STATE}
            estimator.__dict__.clear()
            estimator.__dict__.update(before, **kept)
            raise

    return wrapper


_WORKSPACE = threading.local()


def scratch(name, shape, *, dtype, device):
    """A reusable buffer for a temporary of block-wise work, one per thread and name.

    Passes over the rows in blocks make the same temporaries again and again
    (a block's distance matrix, its squared entries). On CPU, a fresh
    multi-megabyte temporary per block costs page faults, because the
    allocator hands the pages back to the system in between: measured, 62 ms
    of a 76 ms pass over 200000 x 32 float64 in 1 MB blocks. Writing into a
    buffer kept per thread (``out=``) avoids that. The contents are undefined,
    and a buffer is valid until the next call with the same ``name`` in the
    same thread. Buffers live until the enclosing :func:`workspace` (or
    :func:`block_pool`) closes.
    On GPU this is :func:`torch.empty` (torch's caching allocator does the
    same).

    Parameters
    ----------
    name : str
        What the buffer is for; distinct temporaries alive at once need
        distinct names.
    shape : tuple of int
    dtype : torch.dtype
    device : torch.device

    Returns
    -------
    Tensor of shape ``shape``

    Examples
    --------
    >>> import torch
    >>> from skmath._engine import block_pool, scratch
    >>> cpu = torch.device("cpu")
    >>> with block_pool(1):
    ...     a = scratch("square", (4, 3), dtype=torch.float64, device=cpu)
    ...     b = scratch("square", (2, 2), dtype=torch.float64, device=cpu)
    ...     a.data_ptr() == b.data_ptr()
    True
    """
    if device.type != "cpu":
        return torch.empty(shape, dtype=dtype, device=device)
    buffers = _WORKSPACE.__dict__.setdefault("buffers", {})
    numel = math.prod(shape)
    buffer = buffers.get((name, dtype))
    if buffer is None or buffer.numel() < numel:
        buffer = buffers[(name, dtype)] = empty((numel,), dtype=dtype, device=device)
    return buffer[:numel].view(shape)


@contextmanager
def block_pool(n_workers):
    """Threads for block-parallel CPU work (see :func:`map_blocks`).

    Many small torch operations on cache-sized blocks, each run with torch's
    intra-op threads, make one parallel region per operation, and on a busy
    machine every region waits for a descheduled thread. Spreading whole
    blocks over ``n_workers`` Python threads, each running torch on one
    thread, is what sklearn's Cython code does with OpenMP chunks. torch stays
    single-threaded for the whole context, serial work between blocks
    included: changing torch's thread count and then working costs ~10 ms
    each time (measured), more than that serial work gains from a second
    thread. On exit the calling thread's :func:`scratch` buffers are released
    (the pool's threads end with their own).

    Yields ``None`` (run serially, torch threads untouched) when
    ``n_workers <= 1``.

    torch's thread count is a setting of each thread, but setting it also
    sets a process-wide default that a thread adopts on its first parallel
    operation: the pool's threads start while that default is 1, and the
    default is then set back (from a short-lived thread, so that this one
    stays at 1). A thread of the caller's that starts using torch while the
    pool runs starts with the process's count, not 1 for good.
    """
    with workspace():
        if n_workers <= 1:
            yield None
        else:
            with single_threaded_torch(), ThreadPoolExecutor(max_workers=n_workers) as pool:
                _start_single_threaded(pool, n_workers)
                _set_process_default_threads(_thread_limits().saved)
                yield pool


@contextmanager
def workspace():
    """The lifetime of this thread's :func:`scratch` buffers: they are released
    when the outermost ``workspace`` block (or :func:`block_pool`) exits.

    Outside one, they last as long as the thread (KMeans' predictions kept
    ~7 MB per thread that predicted on 200,000 x 32 rows).
    """
    depth = getattr(_WORKSPACE, "depth", 0)
    _WORKSPACE.depth = depth + 1
    try:
        yield
    finally:
        _WORKSPACE.depth = depth
        if depth == 0:
            _WORKSPACE.__dict__.pop("buffers", None)


def _start_single_threaded(pool, n_workers):
    """Start all ``n_workers`` threads of ``pool`` now, each adopting torch's
    current process default (1) on its first torch call."""
    barrier = threading.Barrier(n_workers)

    def start(_):
        barrier.wait()  # every task on its own thread
        return torch.get_num_threads()  # torch's per-thread setting starts here

    try:
        list(pool.map(start, range(n_workers)))
    except BaseException:
        # A thread that could not start (a process limit), or Ctrl-C: the
        # workers already waiting leave at once, and the pool can shut down.
        barrier.abort()
        raise


def _set_process_default_threads(count):
    """Set torch's process-wide default thread count, leaving this thread's
    (no thread to spare, under a process limit: the default stays)."""
    setter = threading.Thread(target=torch.set_num_threads, args=(count,))
    try:
        setter.start()
    except RuntimeError:  # "can't start new thread"
        return
    setter.join()


def map_blocks(fn, blocks, pool):
    """``[fn(blk) for blk in blocks]``, on ``pool``'s threads when there is one.

    Results keep the order of ``blocks``; a worker's exception is re-raised.
    """
    if pool is None or len(blocks) < 2:
        return [fn(blk) for blk in blocks]
    return list(pool.map(fn, blocks))


def _to_cpu(value):
    if isinstance(value, torch.nn.Module):
        # nn.Module.to works in place: copy first so the live estimator keeps
        # its device.
        return copy.deepcopy(value).to("cpu")
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu")
    return value


class TorchEstimatorMixin:
    """Mixin giving every skmath estimator device handling and portable pickles.

    Fitted state is either NumPy arrays (as in sklearn) or torch modules and
    tensors; on pickling the latter are moved to the CPU, so a model fitted on a
    GPU loads on a machine without one. After loading, computations run on the
    CPU unless the estimator's ``device`` says otherwise and is available.
    """

    def _resolve_device(self):
        self._device = resolve_device(self.device)
        return self._device

    def _validate_numeric_X(self, X, accept_sparse=False):
        """``validate_data(self, X, reset=False, dtype="numeric")``, for prediction.

        Strings are refused, as by sklearn's predict. A DataFrame's
        categorical column of strings passes ``dtype="numeric"`` as an
        object array (sklearn's estimators then fail in the product with a
        ``TypeError``): its numbers in strings are converted here, other
        strings refused with a ``ValueError`` (could not convert).
        """
        X = validate_data(self, X, reset=False, accept_sparse=accept_sparse, dtype="numeric")
        if X.dtype == object:
            X = check_array(X, accept_sparse=accept_sparse, dtype=np.float64)
        return X

    def _predict_device(self):
        """Device for post-fit computations: the fitted one if still usable."""
        device = getattr(self, "_device", None)
        if device is None or (device.type == "cuda" and (
                not torch.cuda.is_available()
                or (device.index or 0) >= torch.cuda.device_count())):
            return torch.device("cpu")  # no GPU, or not that one (cuda:1 on a 1-GPU machine)
        return device

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else None
        if state is None:
            state = self.__dict__.copy()
        return {key: _to_cpu(value) for key, value in state.items()}
