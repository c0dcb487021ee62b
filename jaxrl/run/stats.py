"""Summaries over seeds: mean, standard deviation, a 95% confidence interval of the mean, and how
many seeds contributed (a metric may be undefined, NaN, for some seeds)."""

from __future__ import annotations

import numpy as np

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z95 = 1.959964


def t95(dof: int) -> float:
    """The two-sided 95% quantile of Student's t with ``dof`` degrees of freedom.

    Tabulated up to 30; beyond, the Cornish-Fisher expansion ``z + (z^3 + z) / (4 dof)`` (within
    0.003 of the exact value at 31 and closer after).
    """
    if dof < 1:
        return float("nan")
    if dof <= len(_T95):
        return _T95[dof - 1]
    return _Z95 + (_Z95**3 + _Z95) / (4 * dof)


def summarize(values: np.ndarray, axis: int = -1) -> dict[str, np.ndarray]:
    """Mean, sample std, the 95% t-interval of the mean and the count along ``axis`` (the seeds).

    NaN entries (a metric undefined for that seed) are left out: ``count`` is the number of
    seeds that contributed, and the interval uses ``count - 1`` degrees of freedom. With one
    contributing seed the interval is the point itself (no spread can be estimated); with none,
    every statistic is NaN.
    """
    values = np.asarray(values, np.float64)
    present = ~np.isnan(values)
    n = present.sum(axis=axis)
    filled = np.where(present, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=axis) / n
        deviations = np.where(present, values - np.expand_dims(mean, axis), 0.0)
        var = (deviations**2).sum(axis=axis) / (n - 1)
        std = np.where(n > 1, np.sqrt(var), np.where(n == 1, 0.0, np.nan))
        t = np.vectorize(t95, otypes=[np.float64])(np.maximum(n - 1, 1))
        half = np.where(n > 1, t * std / np.sqrt(np.maximum(n, 1)), np.where(n == 1, 0.0, np.nan))
    return {
        "mean": mean,
        "std": std,
        "ci_low": mean - half,
        "ci_high": mean + half,
        "count": n,
    }


def bootstrap_interval(
    values: np.ndarray, axis: int = -1, *, resamples: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The 95% percentile-bootstrap interval of the mean along ``axis`` (the seeds): the 2.5th
    and 97.5th percentiles of the means of ``resamples`` resamples of the seeds with
    replacement, drawn from ``numpy.random.default_rng(seed)`` (deterministic).

    Every resampled mean lies between the smallest and the largest value, so the interval of a
    quantity that cannot be negative (an error, a length) cannot be either, unlike the
    t-interval of :func:`summarize`. NaN entries are left out, as there (each resample draws
    among the seeds present); with one seed present the interval is the point, with none NaN.
    """
    values = np.moveaxis(np.asarray(values, np.float64), axis, -1)
    lead, n = values.shape[:-1], values.shape[-1]
    flat = values.reshape(-1, n)
    rng = np.random.default_rng(seed)
    draws = rng.random((resamples, n))  # shared by every entry: one uniform per slot
    low, high = np.full(flat.shape[0], np.nan), np.full(flat.shape[0], np.nan)
    for i, row in enumerate(flat):
        present = row[~np.isnan(row)]
        if present.size:
            picks = (draws * present.size).astype(np.int64)[:, : present.size]
            means = present[picks].mean(axis=1)
            low[i], high[i] = np.percentile(means, [2.5, 97.5])
    return low.reshape(lead), high.reshape(lead)
