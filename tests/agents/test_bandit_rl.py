"""GRPO and PPO-RLHF on the preference bandit reach DPO's closed-form optimum pi* for every
beta, with the true reward."""

import importlib
import json

import numpy as np
import pytest

from jaxrl import run
from tests.run import evaluated

# config -> (steps of the test's run, largest E_x KL(pi* || pi) over 8 seeds x 4 betas measured
# at those steps, BUILD-notes.md)
RUNS = {"grpo_bandit": (1_000, 0.00092), "ppo_rlhf_bandit": (2_000, 0.0014)}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_beta_and_seed_reaches_the_optimum(tmp_path, name):
    """A short run (4 seeds x 4 betas in one program): ``E_x KL(pi* || pi) <= 0.01``, the
    issue's bar, in every one: 7-11x the largest seed measured at these steps."""
    steps, _ = RUNS[name]
    config = importlib.import_module(f"jaxrl.configs.{name}").get_config()
    with config.unlocked():
        config.num_seeds, config.total_steps, config.chunk_steps = 4, steps, steps // 2
    experiment = importlib.import_module(config.experiment).make_experiment(config)
    run.run(experiment, config, str(tmp_path / name), log=lambda _: None)
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    kl = np.array([s["final_per_seed"]["kl_to_optimum"] for s in summary["settings"]])
    assert kl.shape == (4, 4) and np.all(kl <= 0.01), kl
    assert (tmp_path / name / "tradeoff.png").stat().st_size > 0
    evaluated.check(tmp_path / name, tmp_path, video=False)
