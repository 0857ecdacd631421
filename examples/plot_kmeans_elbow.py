"""
================================================
How many clusters are in the handwritten digits?
================================================

k-means needs the number of clusters :math:`k` up front. Its objective, the
inertia (sum of squared distances to the closest center), always decreases as
:math:`k` grows, so :math:`k` is read off the shape of the curve: where adding a
cluster stops paying (the "elbow"), or where the silhouette score peaks.

We run :class:`skmath.KMeans` and scikit-learn's :class:`~sklearn.cluster.KMeans`
with the same ``n_init`` on the 1797 8x8 digit images for :math:`k = 2 ... 20`:
the two inertia curves should lie on top of each other. Then we look at the ten
centers found for :math:`k = 10`: are they the ten digits?
"""

# %%
# Inertia and silhouette against k
# --------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn import cluster as sk
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_rand_score, silhouette_score

from skmath import KMeans

X, y = load_digits(return_X_y=True)
ks = np.arange(2, 21)
n_init = 4

inertia = {"skmath": [], "scikit-learn": []}
silhouette = []
for k in ks:
    ours = KMeans(n_clusters=k, n_init=n_init, random_state=0, device="cpu").fit(X)
    ref = sk.KMeans(n_clusters=k, n_init=n_init, random_state=0).fit(X)
    inertia["skmath"].append(ours.inertia_)
    inertia["scikit-learn"].append(ref.inertia_)
    silhouette.append(silhouette_score(X, ours.labels_))
inertia = {name: np.array(values) for name, values in inertia.items()}
ratio = inertia["skmath"] / inertia["scikit-learn"]
print("inertia ratio skmath / sklearn per k:", ratio.round(3))
print(f"best silhouette at k = {ks[int(np.argmax(silhouette))]}")

fig, (ax_inertia, ax_sil) = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True)
ax_inertia.plot(ks, inertia["scikit-learn"] / 1e6, "o-", color="tab:gray", lw=3,
                label="scikit-learn", alpha=0.6)
ax_inertia.plot(ks, inertia["skmath"] / 1e6, ".--", color="tab:orange", label="skmath")
ax_inertia.axvline(10, color="k", lw=0.6, ls=":")
ax_inertia.set(xlabel="number of clusters k", ylabel="inertia (millions)",
               title=f"inertia, n_init={n_init} for both", xticks=ks[::2])
ax_inertia.legend()
ax_sil.plot(ks, silhouette, "o-", color="tab:orange")
ax_sil.axvline(10, color="k", lw=0.6, ls=":")
ax_sil.set(xlabel="number of clusters k", ylabel="silhouette score",
           title="silhouette of skmath's clustering (higher is better)", xticks=ks[::2])

# %%
# The ten centers
# ---------------
# Each center is an 8x8 image: the average of the digits in its cluster. We
# label it with the most common true digit among its members and the fraction
# of members that share it. The clustering never saw the labels.
kmeans = KMeans(n_clusters=10, n_init=n_init, random_state=0, device="cpu").fit(X)
print(f"adjusted Rand index against the true digits: {adjusted_rand_score(y, kmeans.labels_):.3f}")

fig, axes = plt.subplots(2, 5, figsize=(9, 4), constrained_layout=True)
order = np.argsort([np.bincount(y[kmeans.labels_ == j]).argmax() for j in range(10)])
for ax, j in zip(axes.ravel(), order):
    members = y[kmeans.labels_ == j]
    digit = np.bincount(members).argmax()
    ax.imshow(kmeans.cluster_centers_[j].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"'{digit}' {np.mean(members == digit):.0%} of {len(members)}", fontsize=9)
    ax.axis("off")
fig.suptitle("skmath KMeans(n_clusters=10) centers on the digits")
plt.show()
