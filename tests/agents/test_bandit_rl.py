"""GRPO and PPO-RLHF on the preference bandit reach DPO's closed-form optimum pi* for every
beta, with the true reward; DeepSeek's GRPO reaches its own fixed point; both agents train each
seed on the reward its seed's reward model learned."""

import copy
import importlib
import json

import numpy as np
import pytest

from jaxrl import run
from tests.run import evaluated

# config (and variant) -> (steps of the test's run, the metric held to 0.01, its largest value
# over 8 seeds x 4 betas measured at those steps, BUILD-notes.md)
RUNS = {
    "grpo_bandit": (1_000, "kl_to_optimum", 0.00092),
    "ppo_rlhf_bandit": (2_000, "kl_to_optimum", 0.0014),
    # DeepSeek's form settles elsewhere: at its own fixed point (jaxrl.agents.grpo)
    "grpo_bandit:deepseek": (1_000, "kl_to_fixed_point", 0.0021),
}


def _run(tmp_path, name, **fields):
    """A run of ``jaxrl/configs/NAME.py`` (``NAME:VARIANT``) with ``fields`` set: its workdir
    and config."""
    module, _, variant = name.partition(":")
    config = importlib.import_module(f"jaxrl.configs.{module}").get_config(*filter(None, [variant]))
    with config.unlocked():
        for key, value in fields.items():
            config[key] = value
    experiment = importlib.import_module(config.experiment).make_experiment(config)
    workdir = tmp_path / name.replace(":", "_")
    run.run(experiment, config, str(workdir), log=lambda _: None)
    return workdir, config


def _final(workdir, metric) -> np.ndarray:
    summary = json.loads((workdir / "summary.json").read_text())
    return np.array([s["final_per_seed"][metric] for s in summary["settings"]])


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_beta_and_seed_reaches_the_optimum(tmp_path, name):
    """A short run (4 seeds x 4 betas in one program): ``E_x KL(pi* || pi) <= 0.01``, the
    issue's bar, in every one: 5-11x the largest seed measured at these steps (for DeepSeek's
    form, ``pi*`` its own fixed point, ``kl_to_fixed_point``)."""
    steps, metric, _ = RUNS[name]
    workdir, _ = _run(tmp_path, name, num_seeds=4, total_steps=steps, chunk_steps=steps // 2)
    kl = _final(workdir, metric)
    assert kl.shape == (4, 4) and np.all(kl <= 0.01), kl
    assert (workdir / "tradeoff.png").stat().st_size > 0
    evaluated.check(workdir, tmp_path, video=False)


def test_a_learned_reward_is_its_seeds_reward_model_and_its_optimum_is_reached(tmp_path):
    """GRPO on the reward a reward-model run learned (``reward_workdir``; its ``:sampled``
    variant, 2 seeds, 400 steps): each seed trains on its own seed's ``r_phi`` (equal bit for
    bit, in every setting), and reaches that reward's ``pi*`` (``kl_to_fixed_point <= 0.01``,
    the bar of the true reward's runs); a reward model of another bandit, or with fewer seeds
    than the run, is refused in one line before anything is built."""
    from jaxrl.agents import grpo

    reward_dir, _ = _run(
        tmp_path, "reward_model_bandit:sampled", num_seeds=2, total_steps=400, chunk_steps=200
    )
    workdir, config = _run(
        tmp_path,
        "grpo_bandit",
        num_seeds=2,
        total_steps=1_000,
        chunk_steps=500,
        reward_workdir=str(reward_dir),
    )
    learned = run.load(str(reward_dir)).carry.reward[0]  # [seeds, X, K]
    for per_setting in run.load(str(workdir)).carry.reward:  # [settings, seeds, X, K]
        np.testing.assert_array_equal(per_setting, learned)
    kl = _final(workdir, "kl_to_fixed_point")
    assert kl.shape == (4, 2) and np.all(kl <= 0.01), kl
    for field, value, message in [
        ("problem_seed", 1, r"learned another bandit \(problem_seed = 0 there, 1 here\)"),
        ("num_seeds", 3, r"has 2 seeds of seed 0; this run needs 3 of seed 0"),
    ]:
        bad = copy.deepcopy(config)
        bad[field] = value
        with pytest.raises(ValueError, match=message):
            grpo.make_experiment(bad)
