"""
==========================================================
Where is a Monte Carlo dropout classifier unsure, and why?
==========================================================

:class:`~skmath.MCDropoutClassifier` averages the class probabilities
:math:`p_t` of ``n_mc_samples`` networks sampled by dropout. Two measures of
its uncertainty come with it, both in nats:

- the **predictive entropy** :math:`H[\\bar p]` of the averaged probabilities
  (``predictive_entropy``), the total uncertainty: at most :math:`\\log 2
  \\approx 0.69` for two classes, where the model says 50/50;
- the **mutual information** :math:`H[\\bar p] - \\overline{H[p_t]}`
  (``mutual_information``), the part of it due to the sampled networks
  disagreeing: the model's (epistemic) uncertainty.

Where the two classes overlap, every sampled network says about 50/50: the
entropy is high but the networks agree, so the mutual information is small.
That uncertainty is in the data and more data would not remove it. The
mutual information is high only where the networks give different answers.
Below, both are drawn on a grid that reaches far beyond the two-moons data.
"""

# %%
# Fit
# ---
# 300 noisy points. With the default learning rate, 200 epochs of two
# minibatches leave the network underfitting, its boundary nearly straight
# (training accuracy 0.90, printed below), so it is trained with a larger
# step, as in :ref:`sphx_glr_auto_examples_plot_mlp_two_moons.py`, and more
# patience (``n_iter_no_change=30``: dropout makes the training loss noisy);
# the rest is the default (one hidden layer of 100 units, ``dropout=0.1``,
# 100 passes). A
# plain :class:`~skmath.MLPClassifier` with the same parameters is fitted for
# contrast.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.spatial import cKDTree
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning

from skmath import MCDropoutClassifier, MLPClassifier

X, y = make_moons(n_samples=300, noise=0.2, random_state=0)
params = dict(learning_rate_init=0.01, max_iter=500, n_iter_no_change=30, random_state=0)
clf = MCDropoutClassifier(**params).fit(X, y)
# Both stop at max_iter without converging: the plain MLP's loss keeps
# falling slowly (it fits the training points ever more sharply), the
# default-rate network's is still far from its minimum.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    mlp = MLPClassifier(**params).fit(X, y)
    default = MCDropoutClassifier(random_state=0).fit(X, y)
print(f"training accuracy: MC dropout {clf.score(X, y):.3f} ({clf.n_iter_} epochs), "
      f"MLP {mlp.score(X, y):.3f} ({mlp.n_iter_} epochs), MC dropout with the default "
      f"learning rate {default.score(X, y):.3f} ({default.n_iter_} epochs)")

xx, yy = np.meshgrid(np.linspace(-5, 6, 200), np.linspace(-5, 5.5, 200))
grid = np.c_[xx.ravel(), yy.ravel()]
proba = clf.predict_proba(grid)[:, 1]
entropy = clf.predictive_entropy(grid)
mutual_information = clf.mutual_information(grid)
print(f"on the grid: entropy up to {entropy.max():.3f} nats, mutual information up to "
      f"{mutual_information.max():.3f} nats")

# %%
# Four maps
# ---------
# Entropy and mutual information share one colour scale, from 0 to
# :math:`\log 2`.
fig, axes = plt.subplots(2, 2, figsize=(10, 9), sharex=True, sharey=True)
panels = [
    (proba, "RdBu_r", np.linspace(0, 1, 21), "(a) MC dropout: P(class 1)"),
    (entropy, "viridis", np.linspace(0, np.log(2), 15), "(b) predictive entropy (total)"),
    (mutual_information, "viridis", np.linspace(0, np.log(2), 15),
     "(c) mutual information (model)"),
    (mlp.predict_proba(grid)[:, 1], "RdBu_r", np.linspace(0, 1, 21),
     "(d) MLPClassifier: P(class 1)"),
]
for ax, (values, cmap, levels, title) in zip(axes.flat, panels):
    image = ax.contourf(xx, yy, values.reshape(xx.shape), levels=levels, cmap=cmap,
                        extend="neither")
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", s=8, edgecolors="w", linewidths=0.4)
    ax.set_title(title)
    ax.set_aspect("equal")
    fig.colorbar(image, ax=ax, shrink=0.8, format="%.2f")
fig.tight_layout()

# %%
# Panel (a) resembles (d), with a boundary that softens away from the data. In (b)
# the entropy is high along the whole boundary: inside the data, where the
# moons overlap, and along its extensions beyond them. In (c) the mutual
# information is nearly zero on the data (0.006 nats on average on the
# training points), including where the classes overlap: there the sampled
# networks agree that the point is a coin flip. It is high only in two
# wedges that continue the boundary beyond the data: each sampled network's
# boundary leaves the data in a slightly different direction (which is why the
# averaged boundary in (a) widens with distance), and inside that fan the
# networks disagree. Outside it, even far from every training point, all of
# them predict the same class with near certainty, and the mutual information
# is zero there too: these ReLU networks are not unsure "far from the data" in
# general, only along the continuation of the boundary.
distance = cKDTree(X).query(grid)[0]
unsure = entropy > 0.5
for name, where in [("within 0.3 of a training point", distance < 0.3),
                    ("farther than 1.5 from all", distance > 1.5)]:
    share = mutual_information[where & unsure].mean() / entropy[where & unsure].mean()
    print(f"grid points {name}: mutual information > 0.1 on "
          f"{np.mean(mutual_information[where] > 0.1):.0%} of them; where the entropy "
          f"is > 0.5, the mutual information is {share:.0%} of it")

# %%
# Near the data, where the prediction is unsure (entropy above 0.5 nats), the
# mutual information is about a tenth of the entropy: the uncertainty is the
# overlap of the classes. Beyond the data it is three quarters: the
# uncertainty is the networks' disagreement.

# %%
# Mutual information against distance from the data
# -------------------------------------------------
# The grid points are binned by their distance to the nearest training point.
# In each bin, the median mutual information (solid) stays near zero at any
# distance; only the upper tail (the 95th percentile, dashed: the wedges)
# grows away from the data. More dropout spreads the sampled networks
# further apart and raises the tail, but does not change the picture: the
# median stays near zero far from the data.
bins = np.linspace(0, 4, 17)
centres = (bins[:-1] + bins[1:]) / 2
which = np.digitize(distance, bins) - 1
fig, ax = plt.subplots(figsize=(7.5, 4.5))
for color, rate in zip(["C0", "C1", "C3"], [0.1, 0.3, 0.5]):
    model = clf if rate == 0.1 else MCDropoutClassifier(dropout=rate, **params).fit(X, y)
    mi = model.mutual_information(grid)
    median = [np.median(mi[which == b]) for b in range(len(centres))]
    upper = [np.percentile(mi[which == b], 95) for b in range(len(centres))]
    ax.plot(centres, upper, color=color, ls="--", label=f"dropout={rate}")
    ax.plot(centres, median, color=color, lw=2)
    print(f"dropout={rate}: mutual information on the training points "
          f"{model.mutual_information(X).mean():.3f} on average; at distance 3-4: "
          f"median {median[-1]:.3f}, 95th percentile {upper[-1]:.3f}")
ax.set(xlabel="distance to the nearest training point",
       ylabel="mutual information (nats)",
       title="MCDropoutClassifier on two moons: where the networks disagree")
ax.plot([], [], "k--", label="95th percentile")
ax.plot([], [], "k-", lw=2, label="median (all three near 0)")
ax.set_ylim(-0.02, 0.75)
ax.legend(fontsize=8, loc="upper left", ncol=2)
fig.tight_layout()
plt.show()

# %%
# So: read the entropy as "how unsure is this prediction", whatever the
# reason, and the mutual information as "would a different plausible
# network answer differently". For these networks the second flags the
# continuation of the class boundary beyond the data, not every point far
# from it; a point far out on either side is classified with confidence by
# all the sampled networks alike.
#
# References
# ----------
# Gal, Y. (2016). Uncertainty in deep learning. PhD thesis, University of
# Cambridge (Sec. 3.3).
#
# Houlsby, N., Huszár, F., Ghahramani, Z. and Lengyel, M. (2011). Bayesian
# active learning for classification and preference learning.
# arXiv:1112.5745.
