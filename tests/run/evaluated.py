"""``experiments.evaluate`` (its function, ``jaxrl.run.scoring.evaluate``) on a finished run:
the tests that finish a run of a registered deep config (the chains of every agent, the grid
configs, the preference configs) call :func:`check` on it, so every deep config's finished run
is evaluated without a run of its own (``tests/test_evaluate.py`` lists where each one is).

What it checks: the table has a row per (setting, seed) and a summary per setting; the scores
are ``[settings, seeds, episodes]`` and finite, and (``alone``) a seed's scores alone equal its
scores beside the others (the keys depend on the seed only), and a seed out of range is one
line; with a video, the GIF reads back with the frames the command drew. A run without an
environment reports the metrics it recorded at its checkpoint's chunk, equal to
``per_seed.npz``'s last row.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from jaxrl.run import ConfigError, scoring


def check(workdir, tmp_path, *, episodes=2, video=True, max_steps=None, alone=False) -> dict:
    """``alone``: also score the last seed alone (one more compile) and compare."""
    workdir = str(workdir)
    gif = os.path.join(str(tmp_path), f"{os.path.basename(workdir)}.gif") if video else None
    lines, results = scoring.evaluate(
        workdir, episodes=episodes, video=gif, max_steps=max_steps, mode="greedy"
    )
    with np.load(os.path.join(workdir, "per_seed.npz")) as data:
        metric = next(k for k in data.files if k not in ("step", "env_steps"))
        num_settings, num_seeds = data[metric].shape[1:3]
    rows = [line for line in lines if line[:7].strip().isdigit()]
    assert len(rows) == num_settings * num_seeds, lines
    if "returns" in results:
        returns = results["returns"]
        assert returns.shape == (num_settings, num_seeds, episodes), returns.shape
        assert np.all(np.isfinite(returns)), returns
        assert sum(line.startswith("setting ") and "median" in line for line in lines) == (
            num_settings
        ), lines
    if alone and "returns" in results:
        last = num_seeds - 1
        _, alone = scoring.evaluate(
            workdir, episodes=episodes, setting=num_settings - 1, seed=last, max_steps=max_steps
        )
        np.testing.assert_array_equal(alone["returns"][0, 0], results["returns"][-1, last])
        with pytest.raises(ConfigError, match=rf"seed must be in \[0, {num_seeds}\)"):
            scoring.evaluate(workdir, seed=num_seeds)
    if "metrics" in results:
        with np.load(os.path.join(workdir, "per_seed.npz")) as data:
            for name, values in results["metrics"].items():
                np.testing.assert_array_equal(values, data[name][-1], err_msg=name)
    if video:
        from PIL import Image

        with Image.open(gif) as image:
            assert image.n_frames == results["frames"] >= 2, (image.n_frames, results["frames"])
    return results
