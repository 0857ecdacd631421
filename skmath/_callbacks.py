"""scikit-learn's callback API for skmath's iterative estimators.

scikit-learn 1.9 added ``set_callbacks`` (experimental, :mod:`sklearn.callback`):
a callback sees each *task* of a fit (the fit itself, then each iteration of
its solver) through the hooks ``on_fit_task_begin`` / ``on_fit_task_end``,
and may get a ``fitted_estimator``, a copy that predicts as if the fit had
stopped there. skmath's iterative estimators report their solver's iterations
(L-BFGS-B or Newton iterations, training epochs) the way scikit-learn's
``LogisticRegression`` reports its lbfgs iterations. With an older
scikit-learn the estimators have no ``set_callbacks``, as scikit-learn's own;
nor with a release whose callback API (experimental) changed from 1.9's.
"""

import inspect

try:
    from sklearn.callback import CallbackContext, CallbackSupportMixin
except ImportError:  # scikit-learn < 1.9
    CallbackContext = CallbackSupportMixin = None


def _api_as_in_1_9():
    """True when :mod:`sklearn.callback` has the (experimental) API of 1.9
    that :class:`FitTasks` calls; a release that changed it gets no
    ``set_callbacks`` rather than fits that fail."""
    if CallbackSupportMixin is None:
        return False
    try:
        return (
            "max_subtasks" in inspect.signature(
                CallbackSupportMixin._init_callback_context).parameters
            and "task_name" in inspect.signature(CallbackContext.subcontext).parameters
            and all(
                "reconstruction_attributes" in inspect.signature(hook).parameters
                for hook in (CallbackContext.call_on_fit_task_begin,
                             CallbackContext.call_on_fit_task_end)
            )
        )
    except (AttributeError, TypeError, ValueError):
        return False


if not _api_as_in_1_9():

    class CallbackSupportMixin:
        """No callbacks (scikit-learn < 1.9, or an API other than 1.9's): no
        ``set_callbacks``, and a fit's callback context accepts every hook
        and does nothing."""

        def _init_callback_context(self, **kwargs):
            return _NoContext()

    class _NoContext:
        def subcontext(self, **kwargs):
            return self

        def call_on_fit_task_begin(self, **kwargs):
            return self

        def call_on_fit_task_end(self, **kwargs):
            return False


class FitTasks:
    """The callback tasks of one fit: the fit, then one subtask per iteration.

    The bookkeeping of scikit-learn's ``_LbfgsCallbackBridge``, for any loop:
    the first iteration's task begins at construction, from the starting
    point; each call to the instance (:meth:`iteration_end`) ends the current
    iteration and begins the next from the same state, so the last iteration
    begun never runs and :meth:`end` closes it as an empty task before ending
    the fit's. The state is passed as a callable returning the fitted
    attributes (``coef_``...): it is evaluated only if a callback asks for a
    ``fitted_estimator``. Iteration tasks are created only when the estimator
    has callbacks; the fit's task always is (a meta-estimator's callbacks
    need it to join the task trees).

    Must be created inside the estimator's ``fit``, once, under
    :func:`sklearn.base._fit_context` (which tears the callbacks down).

    Parameters
    ----------
    estimator : estimator with :class:`CallbackSupportMixin`
    X, y : array-like
        The training data, passed to the hooks.
    max_iter : int
        Most iterations the solver may run.
    task_name : str
        Name of each iteration's task (``"lbfgs-iter"``, ``"epoch"``).
    start : callable
        ``start() -> dict`` of fitted attributes at the starting point.
    metadata : dict or None, default=None
        E.g. ``{"sample_weight": ...}``.
    """

    def __init__(self, estimator, X, y, *, max_iter, task_name, start, metadata=None):
        self._estimator = estimator
        self._data = {"X": X, "y": y, "metadata": metadata}
        self._task_name = task_name
        # One extra, empty, task: the last one begun (see above).
        self._root = estimator._init_callback_context(max_subtasks=max(max_iter, 1) + 1)
        self._root.call_on_fit_task_begin(estimator=estimator, **self._data)
        self.active = bool(getattr(estimator, "_skl_callbacks", None))
        # The iteration task begun and not yet ended (None when there is none).
        self._task = None
        if self.active:
            self._begin(start)

    def _begin(self, attributes):
        # Recorded before its hooks run: if one raises (or Ctrl-C, which the
        # training loop catches, lands in it), the task still gets its end.
        self._task = self._root.subcontext(task_name=self._task_name)
        self._task.call_on_fit_task_begin(
            estimator=self._estimator, **self._data, reconstruction_attributes=attributes
        )

    def iteration_end(self, attributes):
        """End the current iteration at ``attributes()``, begin the next.

        Returns
        -------
        stop : bool
            True when a callback asks to stop iterating.
        """
        if not self.active:
            return False
        # Forgotten before its hooks run: a task is ended once, even when a
        # hook raises.
        task, self._task = self._task, None
        stop = task.call_on_fit_task_end(
            estimator=self._estimator, **self._data, reconstruction_attributes=attributes
        )
        self._begin(attributes)
        return bool(stop)

    __call__ = iteration_end

    def end(self):
        """End the last (empty) iteration task, then the fit's task.

        Call it once the fitted attributes are set: the fit's
        ``fitted_estimator`` is the estimator as it stands.
        """
        if self._task is not None:
            self._task.call_on_fit_task_end(estimator=self._estimator)
            self._task = None
        self._root.call_on_fit_task_end(
            estimator=self._estimator, **self._data, reconstruction_attributes={}
        )
