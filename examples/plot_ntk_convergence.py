"""
=======================================================================
A finite network's tangent kernel converges to the infinite-width NTK
=======================================================================

The neural tangent kernel of a network :math:`f(x; \\theta)` is
:math:`\\Theta(x, x') = \\nabla_\\theta f(x) \\cdot \\nabla_\\theta f(x')`. At
random initialisation in the NTK parameterisation it is random, but as the
hidden layers get wider it concentrates on a deterministic limit that
:class:`skmath.NTKKernel` computes in closed form (Jacot et al. 2018).

Here we build finite fully connected ReLU networks with :mod:`torch.func`,
compute their *empirical* NTK (the Jacobian of the outputs with respect to
all the parameters, contracted with itself) and compare it with the closed
form: first as a function of the angle between two inputs on the unit
circle, then as a relative error that shrinks like
:math:`1/\\sqrt{\\text{width}}`.
"""

# %%
# The empirical NTK of one random network
# ---------------------------------------
# The network is ``Dense -> ReLU`` repeated ``depth`` times, then a Dense
# readout, each layer computing
# ``weight_std / sqrt(fan_in) * h @ W + bias_std * b`` with standard normal
# ``W`` and ``b`` -- the same architecture as ``NTKKernel(depth, ...)``.
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from skmath import NTKKernel

WEIGHT_STD, BIAS_STD = 1.5, 0.1


def empirical_ntk(X, width, depth, seed, dtype=torch.float64):
    """Empirical NTK ``J J^T`` of one random network, by torch.func.jacrev."""
    generator = torch.Generator().manual_seed(seed)
    sizes = [X.shape[1]] + [width] * depth + [1]
    params = {}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"W{layer}"] = torch.randn(fan_in, fan_out, generator=generator, dtype=dtype)
        params[f"b{layer}"] = torch.randn(fan_out, generator=generator, dtype=dtype)
    X = torch.as_tensor(X, dtype=dtype)

    def network(params):
        h = X
        for layer in range(depth + 1):
            z = WEIGHT_STD / math.sqrt(h.shape[1]) * h @ params[f"W{layer}"]
            z = z + BIAS_STD * params[f"b{layer}"]
            h = torch.relu(z) if layer < depth else z[:, 0]
        return h

    jacobians = torch.func.jacrev(network)(params)
    flat = [J.reshape(len(X), -1) for J in jacobians.values()]
    return sum(J @ J.T for J in flat).double().numpy()


# %%
# The kernel as a function of the angle
# -------------------------------------
# Inputs on the unit circle, :math:`x(\gamma) = (\cos\gamma, \sin\gamma)`;
# we plot :math:`\Theta(x(0), x(\gamma))` for one hidden layer. At width 64
# each random network gives a different, wiggly curve; at width 4096 they
# lie on the closed form.
gammas = np.linspace(-np.pi, np.pi, 61)
circle = np.stack([np.cos(gammas), np.sin(gammas)], axis=1)
points = np.vstack([[1.0, 0.0], circle])
closed_form = NTKKernel(depth=1, weight_std=WEIGHT_STD, bias_std=BIAS_STD, device="cpu")

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
ax = axes[0]
for width, color in ((64, "tab:orange"), (4096, "tab:green")):
    for seed in range(4):
        theta = empirical_ntk(points, width, depth=1, seed=seed)[0, 1:]
        ax.plot(gammas, theta, color=color, lw=1, alpha=0.7,
                label=f"empirical, width {width}" if seed == 0 else None)
ax.plot(gammas, closed_form(points[:1], circle)[0], "k--", lw=2, label="NTKKernel (closed form)")
ax.set_xlabel(r"angle $\gamma$ between the inputs")
ax.set_ylabel(r"$\Theta(x(0), x(\gamma))$")
ax.set_title("One hidden layer, four random networks per width")
ax.legend(fontsize=8)
# sphinx_gallery_defer_figures

# %%
# Relative error against width
# ----------------------------
# Two hidden layers now, eight random inputs in :math:`\mathbb{R}^4`, three
# random networks per width (float32 for the widest, to keep the Jacobian
# small). The relative Frobenius error falls like :math:`1/\sqrt{n}`: a
# network 64 times wider is about 8 times closer to the limit.
X = np.random.RandomState(0).normal(size=(8, 4))
exact = NTKKernel(depth=2, weight_std=WEIGHT_STD, bias_std=BIAS_STD, device="cpu")(X)
widths = [16, 64, 256, 1024, 4096]
errors = np.array([
    [
        np.linalg.norm(
            empirical_ntk(X, width, depth=2, seed=seed,
                          dtype=torch.float32 if width > 1024 else torch.float64) - exact
        ) / np.linalg.norm(exact)
        for seed in range(3)
    ]
    for width in widths
])
ax = axes[1]
for seed in range(errors.shape[1]):
    ax.loglog(widths, errors[:, seed], "o", color="tab:blue", alpha=0.6,
              label="one random network" if seed == 0 else None)
ax.loglog(widths, errors.mean(axis=1), "-", color="tab:blue", label="mean over networks")
ax.loglog(widths, errors.mean(axis=1)[0] * np.sqrt(widths[0] / np.array(widths)), "k:",
          label=r"$\propto 1/\sqrt{\mathrm{width}}$")
ax.axhline(0.05, color="gray", lw=0.8, label="5%")
ax.set_xlabel("hidden width")
ax.set_ylabel(r"$\|\Theta_{\mathrm{emp}} - \Theta\|_F / \|\Theta\|_F$")
ax.set_title("Two hidden layers")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

for width, row in zip(widths, errors):
    print(f"width {width:>5}: relative error {row.mean():.3f} (mean of {len(row)} networks)")
