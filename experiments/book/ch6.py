"""Chapter 6: stochastic approximation.

Mean estimation by Robbins-Monro (sections 6.1-6.2) with ``a_k = 1/k`` (the incremental mean),
``1/k^p`` and a constant step: estimates against k over seeds, and the RMS error against
``sigma / sqrt(k)``. The book prints no figure of this example (its Figure 6.5 estimates a
two-dimensional mean by mini-batch gradient descent). Config block ``config.ch6``.

The figure needs the estimate after every sample, so the streams are one vmapped call of the
library's ``robbins_monro_mean`` (one compiled scan per schedule) rather than a runner sweep,
whose metrics are per chunk; ``jaxrl/configs/mean_estimation.py`` is that sweep.
"""

from __future__ import annotations

import html

import jax
import numpy as np

from experiments.book import common
from jaxrl import plotting
from jaxrl.run.experiment import seed_keys
from jaxrl.tabular.mean_estimation import robbins_monro_mean, step_sizes

TITLE = "Chapter 6: stochastic approximation"
VALUES_KEY = ("chapter6",)


def check(config) -> None:
    block = config.ch6
    common.check_int("ch6.seed", block.seed)
    common.check_positive_int("ch6.steps", block.steps)
    common.check_positive_int("ch6.num_seeds", block.num_seeds)
    if block.num_seeds < 2:
        raise ValueError(
            f"config.ch6.num_seeds must be at least 2 (for a spread), got {block.num_seeds!r}"
        )
    for name in ("low", "high", "initial_estimate"):
        common.check_finite(f"ch6.{name}", block[name])
    if not block.low < block.high:
        raise ValueError(
            f"config.ch6.high must be above config.ch6.low, got low={block.low} and "
            f"high={block.high}"
        )
    if not 0.5 < block.power <= 1.0:
        raise ValueError(f"config.ch6.power must be in (0.5, 1], got {block.power!r}")
    if not 0.0 < block.constant_step <= 1.0:
        raise ValueError(f"config.ch6.constant_step must be in (0, 1], got {block.constant_step!r}")


def compute(config) -> dict:
    """Mean estimation by Robbins-Monro with three step sizes (Zhao, ch. 6.1-6.2).

    ``x_k`` uniform on ``[low, high]``, one stream per seed; ``w_{k+1} = w_k - a_k (w_k - x_k)``
    with ``a_k = 1/k`` (the incremental sample mean), ``1/k^p`` and a constant ``a``.
    """
    block = config.ch6
    num_steps, low, high = block.steps, block.low, block.high
    sample = lambda key: jax.random.uniform(key, (num_steps,), minval=low, maxval=high)  # noqa: E731
    samples = jax.vmap(sample)(seed_keys(block.seed, block.num_seeds))
    true_mean = 0.5 * (low + high)
    sigma = (high - low) / np.sqrt(12.0)  # standard deviation of the uniform distribution
    a = block.constant_step
    schedules = {
        "a_k = 1/k (incremental mean)": step_sizes(num_steps, schedule="harmonic"),
        f"a_k = 1/k^{block.power:g}": step_sizes(num_steps, schedule="power", power=block.power),
        f"a_k = {a:g} (constant)": step_sizes(num_steps, schedule="constant", scale=a),
    }
    w_1 = block.initial_estimate
    estimate = jax.jit(jax.vmap(lambda x, a_k: robbins_monro_mean(x, a_k, w_1=w_1), (0, None)))
    k = np.arange(1, num_steps + 1)
    curves = {}
    for name, a_k in schedules.items():
        w = np.asarray(estimate(samples, a_k), np.float64)  # [seeds, K]: w_{k+1}, k = 1..K
        if not np.all(np.isfinite(w)):
            raise FloatingPointError(f"non-finite estimate for the step size {name}")
        curves[name] = {
            "estimates": w,
            **common.summary(w, axis=0),
            "p025": np.percentile(w, 2.5, axis=0),
            "p975": np.percentile(w, 97.5, axis=0),
            # Root mean squared error over the seeds, sqrt(mean_i (w_i - E[X])^2).
            "rmse": np.sqrt(np.mean((w - true_mean) ** 2, axis=0)),
        }
    # The sample mean's standard error, and the constant step's stationary spread
    # sqrt(a Var[X] / (2 - a)) (w = sum_j a (1 - a)^j x_{k-j} for large k).
    return {
        "k": k,
        "true_mean": true_mean,
        "sigma": sigma,
        "standard_error": sigma / np.sqrt(k),
        "constant_spread": float(sigma * np.sqrt(a / (2.0 - a))),
        "curves": curves,
    }


def _estimates_panel(ax, k, c, *, color, span, name, first):
    ax.fill_between(
        k, c["p025"], c["p975"], color=color, alpha=0.15, linewidth=0, label="2.5-97.5% of seeds"
    )
    ax.plot(k, c["estimates"][0], color=color, linewidth=0.7, alpha=0.6, label="seed 0")
    ax.plot(k, c["mean"], color=color, linewidth=1.8, label="mean over seeds")
    ax.fill_between(
        k,
        c["ci_low"],
        c["ci_high"],
        color=color,
        alpha=0.45,
        linewidth=0,
        label="95% CI of the mean",
    )
    ax.set_xscale("log")
    ax.set_ylim(*span)
    ax.set_xlabel("sample k")
    ax.set_ylabel("estimate w_{k+1}" if first else "")
    ax.set_title(name, fontsize=10)
    ax.grid(True, alpha=0.3)


def figures(config, results, out: common.Figures) -> None:
    block, c6 = config.ch6, results
    k, names = c6["k"], list(c6["curves"])
    fig, axes = plotting.new_figure(1, len(names) + 1, panel_size=3.6)
    first = c6["curves"][names[0]]
    span = (
        min(first["p025"].min(), c6["true_mean"] - 3),
        max(first["p975"].max(), c6["true_mean"] + 3),
    )
    for i, (ax, name) in enumerate(zip(axes[0, :-1], names, strict=True)):
        _estimates_panel(
            ax, k, c6["curves"][name], color=f"C{i}", span=span, name=name, first=i == 0
        )
        ax.axhline(c6["true_mean"], color="black", linestyle="--", linewidth=1.0, label="E[X]")
        if i == 0:
            ax.legend(fontsize="x-small", loc="lower right")
    ax = axes[0, -1]
    plotting.plot_convergence(
        ax,
        {**{n: c6["curves"][n]["rmse"] for n in names}, "sigma / sqrt(k)": c6["standard_error"]},
        first_iteration=1,
        xlabel="sample k",
        ylabel="RMS error over seeds",
        title="root mean squared error",
        styles={"sigma / sqrt(k)": {"color": "black", "linestyle": "--", "linewidth": 1.0}},
    )
    ax.axhline(c6["constant_spread"], color="C2", linestyle=":", linewidth=1.2)
    ax.set_xscale("log")
    spreads = ", ".join(f"{c6['curves'][n]['std'][-1]:.3g} ({n})" for n in names)
    out.save(
        fig,
        "ch6_mean_estimation.png",
        reproduces="sections 6.1-6.2 (mean estimation; the book prints no figure of it)",
        settings={
            "X": f"uniform on [{block.low:g}, {block.high:g}]",
            "w_1": block.initial_estimate,
            "p": block.power,
            "a": block.constant_step,
            "seeds": block.num_seeds,
        },
        caption=f"Mean estimation by stochastic approximation: x_k uniform on [{block.low:g}, "
        f"{block.high:g}] (E[X] = {c6['true_mean']:g}, sigma = {c6['sigma']:.3g}), w_{{k+1}} = "
        f"w_k - a_k (w_k - x_k) from w_1 = {block.initial_estimate:g}, {block.num_seeds} seeds. "
        "Left three panels (log k axis): seed 0 (thin), the mean over seeds with its 95% "
        "t-interval (dark band) and the middle 95% of the seeds (light band). Right: the RMS "
        "error over seeds against k, log-log. With a_k = 1/k (the sample mean) it follows the "
        "standard error sigma/sqrt(k) (dashed); 1/k^p also converges, more slowly; the "
        "constant step stops improving: its spread stays near sqrt(a Var[X] / (2 - a)) = "
        f"{c6['constant_spread']:.3g} (dotted). Spread over seeds at k = {k[-1]}: {spreads}.",
    )


def _checkpoints(num_steps: int) -> list[int]:
    """k = 1, 10, 100, ... below ``num_steps``, and ``num_steps``."""
    ks = [10**i for i in range(int(np.log10(num_steps)) + 1) if 10**i < num_steps]
    return [*ks, num_steps]


def values(config, results) -> dict:
    block, c6 = config.ch6, results
    ks = _checkpoints(len(c6["k"]))
    at = lambda x: common.sig(np.asarray(x)[np.asarray(ks) - 1])  # noqa: E731
    return {
        "distribution": f"uniform on [{block.low:g}, {block.high:g}]",
        "true_mean": c6["true_mean"],
        "sigma": float(f"{c6['sigma']:.6g}"),
        "num_seeds": block.num_seeds,
        "initial_estimate": block.initial_estimate,
        "k": ks,
        "standard_error": at(c6["standard_error"]),
        "constant_spread_predicted": float(f"{c6['constant_spread']:.4g}"),
        "curves": {
            name: {
                "mean": at(c["mean"]),
                "ci_low": at(c["ci_low"]),
                "ci_high": at(c["ci_high"]),
                "std": at(c["std"]),
                "rmse": at(c["rmse"]),
                "final_estimates": common.sig(c["estimates"][:, -1], 6),
            }
            for name, c in c6["curves"].items()
        },
    }


def section(config, results, figures_html: str) -> str:
    block, c6 = config.ch6, results
    kk = len(c6["k"])
    rows = [
        (
            name,
            f"{c['mean'][-1]:.3f} [{c['ci_low'][-1]:.3f}, {c['ci_high'][-1]:.3f}]",
            f"{c['std'][-1]:.3g}",
            f"{c['rmse'][-1]:.3g}",
        )
        for name, c in c6["curves"].items()
    ]
    rows.append(("sigma/sqrt(k)", "", f"{c6['standard_error'][-1]:.3g}", ""))
    rows.append(("sqrt(a Var/(2-a))", "", f"{c6['constant_spread']:.3g}", ""))
    header = ("step size", f"mean of w at k={kk} [95% CI]", "std over seeds", "RMS error")
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>Mean estimation: from samples x<sub>k</sub> of X, uniform on [{block.low:g}, {block.high:g}]
(E[X] = {c6["true_mean"]:g}), the Robbins-Monro iteration w<sub>k+1</sub> = w<sub>k</sub> -
a<sub>k</sub> (w<sub>k</sub> - x<sub>k</sub>) with a<sub>k</sub> = 1/k (the incremental sample
mean), 1/k<sup>{block.power:g}</sup> (both satisfy &sum; a<sub>k</sub> = &infin;, &sum;
a<sub>k</sub><sup>2</sup> &lt; &infin;) and the constant {block.constant_step:g} (it does not: the
estimate keeps fluctuating); {block.num_seeds} seeds of {block.steps} samples each.</p>
{figures_html}
<h3>Estimates at k = {kk}</h3>{common.kv_table(header, rows)}
"""
