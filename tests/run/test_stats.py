"""Summaries over seeds (``jaxrl.run.stats``): Student's t-interval of the mean, and the
percentile bootstrap the main job uses for quantities that cannot be negative."""

import numpy as np
import pytest

from jaxrl.run import stats


def test_t95_matches_known_quantiles():
    assert stats.t95(1) == 12.706 and stats.t95(30) == 2.042
    assert abs(stats.t95(40) - 2.021) < 0.003 and abs(stats.t95(1000) - 1.962) < 0.002
    summary = stats.summarize(np.array([[1.0, 2.0, 3.0]]), axis=1)
    # mean 2, sd 1, half-width t(2) * 1 / sqrt(3)
    assert summary["mean"][0] == 2.0 and summary["std"][0] == 1.0
    assert summary["ci_high"][0] == pytest.approx(2.0 + 4.303 / np.sqrt(3))
    assert summary["count"][0] == 3


def test_summaries_skip_nan_seeds():
    values = np.array([[1.0, np.nan, 3.0], [np.nan, 4.0, np.nan], [np.nan] * 3])
    summary = stats.summarize(values, axis=1)
    np.testing.assert_array_equal(summary["count"], [2, 1, 0])
    assert summary["mean"][0] == 2.0 and summary["std"][0] == pytest.approx(np.sqrt(2.0))
    assert summary["ci_high"][0] == pytest.approx(2.0 + 12.706 * np.sqrt(2.0) / np.sqrt(2))
    assert summary["mean"][1] == 4.0 and summary["ci_low"][1] == summary["ci_high"][1] == 4.0
    assert np.isnan(summary["mean"][2]) and np.isnan(summary["ci_low"][2])


def test_the_bootstrap_interval_is_the_percentiles_of_resampled_means():
    """Against a brute-force loop over the same uniforms (slot ``j`` of resample ``r`` picks
    seed ``floor(u[r, j] * n)``), NaN seeds left out; never outside the data's range, so never
    below 0 for errors; close to the t-interval for many normal seeds."""
    rng = np.random.default_rng(3)
    values = np.abs(rng.normal(size=(3, 6)))
    values[1, 2] = np.nan
    low, high = stats.bootstrap_interval(values, axis=1, resamples=500, seed=7)
    draws = np.random.default_rng(7).random((500, 6))
    for i, row in enumerate(values):
        present = row[~np.isnan(row)]
        means = [
            np.mean([present[int(u * len(present))] for u in draws[r, : len(present)]])
            for r in range(500)
        ]
        assert low[i] == pytest.approx(np.percentile(means, 2.5), rel=1e-12)
        assert high[i] == pytest.approx(np.percentile(means, 97.5), rel=1e-12)
        assert present.min() <= low[i] <= high[i] <= present.max()
    # One seed: the point; none: NaN; and the seeds' axis may be any axis.
    low, high = stats.bootstrap_interval(np.array([[2.0, np.nan], [np.nan, np.nan]]), axis=1)
    assert low[0] == high[0] == 2.0 and np.isnan(low[1]) and np.isnan(high[1])
    many = rng.normal(loc=1.0, size=(400, 1))
    low, high = stats.bootstrap_interval(many, axis=0)
    t = stats.summarize(many, axis=0)
    # Both estimate the same interval: their half-widths agree within 10% at 400 seeds.
    assert (high - low)[0] == pytest.approx((t["ci_high"] - t["ci_low"])[0], rel=0.1)
