"""
==========================================================
Watching a fit with callbacks: per-epoch likelihood curves
==========================================================

scikit-learn 1.9 added callbacks (:mod:`sklearn.callback`, experimental):
objects given to ``set_callbacks`` that see each task of a fit. skmath's
iterative estimators report one task per epoch, and a callback asking for a
``fitted_estimator`` gets, at the end of each epoch, a copy that predicts as
the fit would if it stopped there.

Here two callbacks watch a :class:`~skmath.MCDropoutRegressor` on the diabetes
data: scikit-learn's own :class:`~sklearn.callback.ScoringMonitor` logs the
training R² of each epoch, and a ten-line callback of our own scores the
Gaussian negative log-likelihood (:func:`skmath.metrics.gaussian_nll`) of a
held-out split, the quantity a Bayesian model should be judged on, and stops
the fit (by returning ``True``) once it has not improved for 30 epochs.
"""

# %%
# A callback that scores held-out data and stops the fit
# ------------------------------------------------------
# A hook declares what it wants by its keyword-only arguments; asking for
# ``fitted_estimator`` is what makes the estimator build the per-epoch copy.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.callback import ScoringMonitor
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

from skmath import MCDropoutRegressor
from skmath.metrics import gaussian_nll


class HeldOutNLL:
    """Held-out Gaussian NLL after each epoch; stops after ``patience`` epochs without progress."""

    def __init__(self, X, y, patience=30):
        self.X, self.y, self.patience = X, y, patience
        self.nll = []

    def setup(self, estimator, context):
        self.nll = []

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name != "epoch" or fitted_estimator is None:
            return False  # the fit's own task, or the last (empty) one
        mean, std = fitted_estimator.predict(self.X, return_std=True)
        self.nll.append(gaussian_nll(self.y, mean, std))
        best = int(np.argmin(self.nll))
        return len(self.nll) - 1 - best >= self.patience


X, y = load_diabetes(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0)

held_out = HeldOutNLL(X_val, y_val)
monitor = ScoringMonitor(scoring="r2")
# cv=None: the noise from the training rows, so the callback's stop ends the
# whole fit (the default cv=5 trains five more networks, without callbacks,
# for a cross-fitted noise; the held-out NLL here uses the fit's own noise).
reg = MCDropoutRegressor(max_iter=400, n_iter_no_change=400, cv=None, random_state=0)
reg.set_callbacks(held_out, monitor).fit(X_train, y_train)

epochs = [row for row in monitor.get_logs().data if row["task_name"] == "epoch"]
train_r2 = [row["r2"] for row in epochs]
best = int(np.argmin(held_out.nll))
print(f"stopped after {reg.n_iter_} epochs (max_iter=400); best held-out NLL "
      f"{held_out.nll[best]:.3f} at epoch {best + 1}")
print(f"training R2 at the end: {train_r2[-1]:.3f}")

# %%
# The curves
# ----------
# The training R² keeps rising while the held-out likelihood levels off: the
# callback stopped the fit once the held-out likelihood had not improved for
# 30 epochs. The model keeps the weights of the epoch it stopped at; for the
# best epoch's weights, use the estimator's own ``early_stopping=True``
# (validation on a split of the training data, judged by R²), which restores
# them.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8))
ax1.plot(np.arange(1, len(train_r2) + 1), train_r2, color="C0")
ax1.set_xlabel("epoch")
ax1.set_ylabel("training R²")
ax1.set_title("ScoringMonitor (scikit-learn)")
ax2.plot(np.arange(1, len(held_out.nll) + 1), held_out.nll, color="C1")
ax2.axvline(best + 1, color="0.5", ls="--", lw=1, label=f"best epoch ({best + 1})")
ax2.set_xlabel("epoch")
ax2.set_ylabel("held-out Gaussian NLL (nats)")
ax2.set_title("HeldOutNLL (a callback of our own)")
ax2.legend()
fig.tight_layout()
plt.show()
