"""The reward model on the preference bandit: from the exact pairs it recovers the true reward
up to a constant per context; from sampled pairs it trains on DPO's very pairs."""

import importlib
import json

import jax
import numpy as np

from jaxrl import run
from jaxrl.agents import dpo, reward_model
from jaxrl.configs import dpo_bandit, reward_model_bandit
from jaxrl.envs import preferences
from jaxrl.run import seed_keys
from tests.run import evaluated


def test_the_exact_pairs_give_the_true_reward_up_to_a_constant_per_context(tmp_path):
    """The expected Bradley-Terry loss is minimised exactly by ``r + c(x)`` (module docstring):
    after the config's 2,000 adam steps every context's spread of ``r_phi - r`` is below 1e-4
    (measured: 4e-6, what adam's steps of size about lr x 1e-4 leave near the optimum; float32
    resolves rewards in [0, 1) to 6e-8)."""
    config = reward_model_bandit.get_config()
    with config.unlocked():
        config.chunk_steps = 1_000
    experiment = reward_model.make_experiment(config)
    run.run(experiment, config, str(tmp_path / "rm"), log=lambda _: None)
    final = json.loads((tmp_path / "rm" / "summary.json").read_text())["settings"][0]
    error = final["final_per_seed"]["reward_error"][0]
    assert error < 1e-4, error
    loaded = run.load(str(tmp_path / "rm"))
    bandit = preferences.make_bandit(
        jax.random.key(config.problem_seed),
        contexts=config.contexts,
        responses=config.responses,
        reference_scale=float(config.reference_scale),
    )
    # the recovered differences, from the carry: r_phi[x, a] - r_phi[x, b] = r[x, a] - r[x, b]
    learned = loaded.carry.reward[0, 0]
    np.testing.assert_allclose(
        learned - learned[:, :1], bandit.reward - bandit.reward[:, :1], atol=1e-4
    )
    evaluated.check(tmp_path / "rm", tmp_path, video=False)


def test_sampled_pairs_are_dpos_pairs_for_the_same_seed():
    """The weights of the ordered pairs (their frequencies among the 50,000 sampled) of seed 3
    are DPO's sampled bandit's, bit for bit: the two pipelines train on the same data."""
    weights = []
    for module, config in (
        (reward_model, reward_model_bandit.get_config("sampled")),
        (dpo, dpo_bandit.get_config("sampled")),
    ):
        experiment = module.make_experiment(config)
        hparams = run.settings_from_config(experiment, config).hparams
        one = jax.tree.map(lambda x: x[0], hparams)
        weights.append(jax.jit(experiment.init)(seed_keys(0, 4)[3], one).weight)
    np.testing.assert_array_equal(weights[0], weights[1])
    assert importlib.import_module(config.experiment) is dpo
