"""The one minibatch training loop shared by every gradient-trained estimator.

Layering (after skorch, without its size): ``train`` runs epochs, an epoch runs
batches, a batch calls the estimator's ``batch_loss``; estimators supply only
that function, an optimizer and, if they want, a validation score.

``batch_loss`` either returns a loss with an autograd graph, which the loop
back-propagates, or computes its gradients itself (the perceptrons'
closed-form backpropagation, which is faster than autograd for them) and
returns a loss without a graph after writing them to the parameters' ``.grad``.
"""

import copy
import math
import warnings
from dataclasses import dataclass, field

import torch
from sklearn.exceptions import ConvergenceWarning
from tqdm.auto import tqdm

from ._core import take_rows


# A final epoch loss this many times the first one's is reported as divergence.
_LOSS_RISE = 10.0

# sklearn's MLP error, word for word, so that code matching it matches ours.
SKLEARN_DIVERGED_MESSAGE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed."
)


class DivergenceError(FloatingPointError, ValueError):
    """Training produced a NaN or infinite loss.

    A :class:`FloatingPointError` (the arithmetic failed) and a
    :class:`ValueError`, the type of scikit-learn's "Solver produced non-finite
    parameter weights" error, so that ``except ValueError`` written for
    scikit-learn catches it too.
    """


@dataclass
class TrainResult:
    """What a call to :func:`train` hands back to the estimator.

    Attributes
    ----------
    loss_curve : list of float
        Mean training loss of each epoch run (``loss_curve_`` in sklearn).
    validation_scores : list of float
        Validation score of each epoch (higher is better); empty without one.
    best_loss : float
        Lowest epoch loss seen.
    best_validation_score : float or None
        Highest validation score seen (None before the first, or when every
        score was NaN).
    n_iter : int
        Epochs run.
    converged : bool
        True when stopping came from the tolerance rule, False when the
        ``max_iter`` epochs ran out.
    no_improvement : int
        Epochs since the last improvement by ``tol`` (sklearn's
        ``_no_improvement_count``), carried into the next call by
        ``partial_fit`` and ``warm_start`` as sklearn carries it.
    interrupted : bool
        True when a ``KeyboardInterrupt`` stopped the call (``interruptible``).
    stopped : bool
        True when ``on_epoch_end`` asked to stop (a callback).

    The loop fills the instance it is given (``result``) as it goes, so
    ``on_epoch_end`` can read the history so far from it (``best_validation_score``
    is set at the end; the best so far is the highest of ``validation_scores``).
    """

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = math.inf
    best_validation_score: float = None
    n_iter: int = 0
    converged: bool = False
    no_improvement: int = 0
    interrupted: bool = False
    stopped: bool = False

    def best_validation_so_far(self):
        """Highest validation score recorded so far (NaN scores skipped), or
        None: ``best_validation_score`` while the loop is still filling."""
        scores = [s for s in self.validation_scores if not math.isnan(s)]
        return max(scores, default=None)


def _no_improvement(score, best, tol, *, higher_is_better):
    """sklearn's ``_update_no_improvement_count`` test: True when ``score``
    does not improve on ``best`` by ``tol``.

    A validation score improves unless ``score < best + tol``, a loss unless
    ``loss > best - tol``: a tie (``tol=0`` and an unchanged score) counts as
    an improvement, and so does NaN, as in scikit-learn.
    """
    if higher_is_better:
        return score < best + tol
    return score > best - tol


def minibatches(n_samples, batch_size, *, shuffle, generator, device):
    """Index tensors of the minibatches of one epoch, drawn with ``generator``."""
    if shuffle:
        order = torch.randperm(n_samples, generator=generator, device=device)
    else:
        order = torch.arange(n_samples, device=device)
    return torch.split(order, batch_size)


def train(
    model,
    batch_loss,
    data,
    *,
    optimizer,
    max_iter,
    batch_size,
    generator,
    shuffle=True,
    tol=1e-4,
    n_iter_no_change=10,
    validation_score=None,
    on_plateau=None,
    on_epoch_end=None,
    verbose=False,
    desc="fit",
    result=None,
    interruptible=False,
    warn_convergence=True,
):
    """Minibatch training with sklearn's stopping rule and best-weight restore.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place.
    batch_loss : callable
        ``batch_loss(*batch) -> Tensor`` scalar mean loss of one minibatch;
        ``batch`` holds the rows of each tensor of ``data``. If the loss
        requires grad, the loop calls ``backward`` on it; otherwise
        ``batch_loss`` must have set the gradients (``p.grad``) itself.
    data : tuple of Tensor
        Training tensors on the training device, sharing their first dimension
        (dense, or sparse CSR: minibatches are gathered by :func:`take_rows`).
    optimizer : Adam, SGD (see :mod:`skmath._engine._optim`) or a torch.optim.Optimizer
    max_iter : int
        Maximum number of epochs.
    batch_size : int
    generator : torch.Generator
        Draws the minibatch order (never the global RNG).
    shuffle : bool, default=True
    tol : float, default=1e-4
        An epoch does not improve when its loss is above ``best_loss - tol``
        (or its validation score below ``best + tol``); ties improve, as in
        sklearn's ``_update_no_improvement_count``. The best loss (score) is
        replaced by a strictly lower loss (higher score).
    n_iter_no_change : int, default=10
        Epochs without improvement before ``on_plateau`` is asked what to do.
    validation_score : callable or None
        ``validation_score() -> float`` (higher is better). When given,
        improvement is judged on it and the weights of the best epoch are
        restored at the end (early stopping).
    on_plateau : callable or None
        Called when the plateau rule triggers: ``on_plateau() -> (keep,
        remark)``, ``keep`` True to keep training (e.g. after lowering the
        learning rate), ``remark`` what ``verbose`` prints after sklearn's
        plateau message (``"Stopping."``, ``"Setting learning rate to ..."``).
        ``None`` stops.
    on_epoch_end : callable or None
        ``on_epoch_end(epoch, loss, returned_state)`` after each epoch, once
        its loss and validation score are recorded (learning-rate schedules,
        callbacks); ``returned_state()`` is the ``state_dict`` training would
        return if it stopped now (the best validated epoch's with
        ``validation_score``, else the model's own, not a copy). A true
        return value stops training (the best epoch's weights are still
        restored with ``validation_score``).
    verbose : bool
        Show a ``tqdm`` progress bar with the running loss, and print
        sklearn's MLP lines (``Iteration i, loss = ...``, ``Validation
        score: ...``, the stopping message) to stdout above it.
    result : TrainResult or None
        Continue an earlier result (``warm_start`` / ``partial_fit``).
    interruptible : bool, default=False
        Catch ``KeyboardInterrupt`` (Ctrl-C) as sklearn's stochastic solvers
        do: warn "Training interrupted by user." and return what was trained
        so far (the best epoch's weights with ``validation_score``; epochs
        completed in ``n_iter``, ``interrupted`` set). Otherwise it
        propagates.
    warn_convergence : bool, default=True
        Whether to warn when early stopping ends at a diverged epoch
        (False for fits inside a larger one, which has warned already:
        silenced without a warnings filter, which is not thread-safe).

    Returns
    -------
    TrainResult

    Raises
    ------
    DivergenceError
        When the loss becomes NaN or infinite: the weights are not left as NaN
        silently, the caller is told to lower the learning rate. A
        ``FloatingPointError`` and a ``ValueError``. With
        ``validation_score``, once an epoch has been scored, the loop instead
        stops, restores the best epoch's weights and warns
        (:class:`~sklearn.exceptions.ConvergenceWarning`), as sklearn's
        early stopping does.
    """
    result = TrainResult() if result is None else result
    n_samples = data[0].shape[0]
    device = data[0].device
    best_state = None
    no_improvement = result.no_improvement
    # sklearn's best_validation_score_ starts at -inf (a NaN score never replaces it).
    best_val = -math.inf if result.best_validation_score is None else result.best_validation_score
    bar = tqdm(range(max_iter), desc=desc, disable=not verbose, leave=False)

    def returned_state():
        return model.state_dict() if best_state is None else best_state

    model.train()
    optimizer.zero_grad(set_to_none=True)
    try:
        for epoch in bar:
            total = torch.zeros((), dtype=torch.float64, device=device)
            for idx in minibatches(
                n_samples, batch_size, shuffle=shuffle, generator=generator, device=device
            ):
                batch = tuple(take_rows(t, idx) for t in data)
                # Under the caller's torch.no_grad() too: there, the loss
                # of an autograd model did not require grad, and the step
                # silently trained nothing.
                with torch.enable_grad():
                    loss = batch_loss(*batch)
                    if loss.requires_grad:
                        loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                total.add_(loss.detach(), alpha=idx.shape[0])
            epoch_loss = float(total) / n_samples
            if not math.isfinite(epoch_loss) and best_state is not None:
                # Early stopping: keep the best validated weights, as sklearn
                # does since its gh-29504 fix, but say so.
                result.n_iter += 1
                result.loss_curve.append(epoch_loss)
                result.validation_scores.append(math.nan)
                if warn_convergence:
                    warnings.warn(
                        f"Training diverged at epoch {result.n_iter} (loss {epoch_loss}); "
                        "stopped, keeping the weights of the best validation score. "
                        "Lower learning_rate_init or standardise the inputs.",
                        ConvergenceWarning,
                        stacklevel=2,
                    )
                break
            if not math.isfinite(epoch_loss):
                raise DivergenceError(
                    f"{SKLEARN_DIVERGED_MESSAGE} Training diverged at epoch {result.n_iter + 1}: "
                    f"the loss is {epoch_loss}. Lower learning_rate_init or standardise "
                    "the inputs."
                )
            result.n_iter += 1
            result.loss_curve.append(epoch_loss)
            if verbose:  # sklearn's MLP lines, above the bar
                tqdm.write(f"Iteration {result.n_iter}, loss = {epoch_loss:.8f}")
            if validation_score is not None:
                model.eval()
                with torch.no_grad():
                    score = float(validation_score())
                model.train()
                result.validation_scores.append(score)
                if verbose:
                    tqdm.write(f"Validation score: {score:f}")
                stalled = _no_improvement(score, best_val, tol, higher_is_better=True)
                if score > best_val:
                    best_val = score
                    best_state = copy.deepcopy(model.state_dict())
            else:
                stalled = _no_improvement(epoch_loss, result.best_loss, tol,
                                          higher_is_better=False)
            result.best_loss = min(result.best_loss, epoch_loss)
            no_improvement = no_improvement + 1 if stalled else 0
            if verbose:
                bar.set_postfix(loss=f"{epoch_loss:.5g}")
            if on_epoch_end is not None and on_epoch_end(
                result.n_iter, epoch_loss, returned_state
            ):
                result.stopped = True
                break
            if no_improvement > n_iter_no_change:
                keep, remark = (False, "Stopping.") if on_plateau is None else on_plateau()
                if verbose:  # sklearn's message, then what the plateau does
                    what = "Training loss" if validation_score is None else "Validation score"
                    tqdm.write(f"{what} did not improve more than tol={tol:f} for "
                               f"{n_iter_no_change} consecutive epochs. {remark}")
                if keep:
                    no_improvement = 0
                    continue
                result.converged = True
                break
    except KeyboardInterrupt:
        if not interruptible:
            raise
        warnings.warn("Training interrupted by user.", UserWarning, stacklevel=2)
        result.interrupted = True
    finally:
        bar.close()
    curve = result.loss_curve
    if warn_convergence and len(curve) > 1 and curve[-1] > _LOSS_RISE * curve[0] > 0:
        # A step too large can throw the weights far off without an infinite
        # loss (a flow at learning_rate_init=1e3: 0.2 -> 2e22), and the
        # plateau rule then stops the fit as if it had converged.
        warnings.warn(
            f"The training loss rose from {curve[0]:.4g} (epoch 1) to {curve[-1]:.4g} "
            f"(epoch {len(curve)}): training diverged. Lower learning_rate_init.",
            ConvergenceWarning,
            stacklevel=2,
        )
    result.best_validation_score = None if best_val == -math.inf else best_val
    result.no_improvement = no_improvement
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return result
