"""Policy gradient and actor-critic with a tabular softmax policy on the book's 5x5 grid (Zhao,
ch. 9-10).

The grid of ch. 2-8 (target (3, 2), six forbidden cells, r_boundary = r_forbidden = -1,
r_target = 1, gamma 0.9), in episodes from a uniformly drawn cell, so that the objective
``J(theta) = sum_s d0(s) v_pi(s)`` is the mean of ``v_pi`` and every state matters. The policy
is ``pi(a|s) = softmax(theta[s])`` from ``theta = 0`` (uniform); the critic is a table too.
``value_error`` is ``max_s |v*(s) - v_pi(s)|`` with ``v_pi`` the exact values of the softmax
policy itself (``jaxrl.dp``), not of its greedy version.

Variants (``--config=jaxrl/configs/actor_critic_grid.py:VARIANT``): ``reinforce`` (with a
baseline; ``reinforce_no_baseline`` without), ``qac``, ``a2c`` (the default) and
``off_policy`` (uniform behaviour). Every update is one gradient step on a rollout of 320
steps, with adam (actor step 0.01) and an entropy bonus of 0.01. REINFORCE's rollout is 16
episodes of 20 steps (its returns are cut at 20 steps, where the baseline variant bootstraps from
its critic: gamma^20 = 0.12), with critic step 0.1, 10,000 updates. The actor-critics take 64
environments in episodes of 5 steps (more visits of the start cells, which the policy leaves
soonest), critic step 1: 10,000 updates for A2C and off-policy AC; QAC learns 125 action values
from the actions it samples and gets 20,000.
``value_error < 0.1`` (1% of v*'s largest value) counts as near-optimal: no deterministic policy
other than an optimal one gets there (the smallest gap ``v*(s) - q*(s, a)`` of a suboptimal
action is 0.1: moving down from (0, 1) or right from (4, 0), through a forbidden cell).

Run:

    python -m experiments.train --config=jaxrl/configs/actor_critic_grid.py:a2c --workdir=DIR

Expected (measured 2026-12-02, 16 seeds, 2 busy CPU cores): final ``value_error`` below 0.1 in
16 of 16 seeds for ``reinforce`` (0.0045-0.0075, 14 s), 15 of 16 for ``qac`` (0.0035-0.102,
22 s), 16 of 16 for ``a2c`` (0.0019-0.0030, 15 s) and ``off_policy`` (0.0007-0.0017, 12 s);
``reinforce_no_baseline`` 2 of 16 (0.041-0.379, 20 s: most seeds still on the plateau of the
near-tie at (0, 2), and its returns, with no critic, stop at the 20-step cut).
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import actor_critic_cartpole, grid, runner

VARIANTS = ("reinforce", "reinforce_no_baseline", "qac", "a2c", "off_policy")
MODULES = actor_critic_cartpole.MODULES  # the agent module of each algorithm
# (environments, episode = rollout length, updates, critic step) of each algorithm
SETTINGS = {
    "reinforce": (16, 20, 10_000, 0.1),
    "qac": (64, 5, 20_000, 1.0),
    "a2c": (64, 5, 10_000, 1.0),
    "off_policy": (64, 5, 10_000, 1.0),
}


def get_config(variant: str = "a2c") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"the variant must be one of {VARIANTS}, got {variant!r}")
    algorithm = "reinforce" if variant.startswith("reinforce") else variant
    num_envs, episode, total_steps, critic_lr = SETTINGS[algorithm]
    module = MODULES[algorithm]
    config = runner.base(
        f"jaxrl.agents.{module}",
        num_seeds=16,
        total_steps=total_steps,  # training steps per seed: a rollout and an update each
        chunk_steps=total_steps // 20,
        checkpoint_every=5,
    )
    config.environment = "grid"  # a registered environment (jaxrl.envs), discrete actions
    if algorithm == "reinforce":
        config.baseline = variant != "reinforce_no_baseline"  # REINFORCE's v(s) baseline
    config.discount_weighting = False  # weigh the actor's step by gamma^(step in episode)
    config.eval_episodes = 100  # sampled-policy episodes scored after every chunk
    config.num_envs = num_envs  # environments per seed, stepped together
    config.rollout_length = episode  # steps per environment between updates
    config.epochs = 1  # passes over each rollout
    config.num_minibatches = 1  # minibatches per pass
    config.normalize_advantages = False  # standardise the actor's weights per minibatch
    config.normalize_observations = False  # running mean-variance observation normalisation
    config.scale_rewards = False  # rewards / running std of the discounted return
    config.log_std = "free"  # box actions: a learned log-std vector, or "state" (a head)
    config.init_log_std = 0.0  # box actions: the Gaussian's initial log-std
    config.hidden = (64, 64)  # MLP widths on a box of observations (a table here: unused)
    config.activation = "tanh"  # the MLPs' activation (unused on a table)
    config.optimizer = optim.default_config()  # adam, constant step sizes
    hparams = {
        "actor_lr": 0.01,  # alpha_theta
        "critic_lr": critic_lr,  # alpha_w
        "gamma": 0.9,
        "gae_lambda": 0.0,  # a2c: the TD error
        "entropy_coef": 0.01,
    }
    runner.sweep(config, {k: hparams[k] for k in actor_critic_cartpole.HPARAMS[module]}, {})
    env = grid.book_env()  # the grid world's options (static)
    env.max_steps = episode  # an episode is cut (not ended) after this many steps
    config.env = env
    config.lock()
    return config
