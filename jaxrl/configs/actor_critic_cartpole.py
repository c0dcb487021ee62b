"""A2C and PPO on CartPole-v1: separate actor and critic MLPs of 64 and 64 tanh units.

Variants (``--config=jaxrl/configs/actor_critic_cartpole.py:VARIANT``):

- ``ppo`` (the default): the PPO settings the RL Baselines3 Zoo tuned for CartPole-v1 (8
  environments per seed, rollouts of 32 steps, gamma 0.98, GAE lambda 0.8, no entropy bonus,
  adam at 1e-3 decayed linearly to 0, clip range 0.2, advantages standardised, gradient norms
  clipped at 0.5), with 4 epochs over each rollout of 256 steps (one minibatch) instead of the
  Zoo's 20. With 10 epochs every seed ends at 500 but a run takes twice as long (BUILD-notes.md).
- ``a2c``: the Zoo's A2C for CartPole-v1, which is Stable-Baselines3's A2C defaults: 8
  environments, rollouts of 5 steps and one update each, RMSprop at 7e-4 (decay 0.99, epsilon
  1e-5), gradient norms clipped at 0.5, lambda 1 (the 5-step return), no entropy bonus.
- ``reinforce``, ``qac``, ``off_policy``: the A2C settings (they run; no result is claimed for
  them on CartPole).

The result is the sampled policy's mean return over ``eval_episodes`` fresh episodes, after every
chunk, for 16 vmapped seeds at 500k environment steps each.

The decay lasts the whole run, whatever ``total_steps`` is (``jaxrl.optim.over_the_run``), so
a finished run is not extended: a larger ``total_steps`` needs another work directory.

Run:

    python -m experiments.train --config=jaxrl/configs/actor_critic_cartpole.py:ppo --workdir=DIR

Expected (measured 2026-12-02, 2 busy CPU cores, the final sampled-policy returns per seed):
``ppo`` 500 in 15 of 16 seeds and 139.8 in one (median 500; 25 s wall with a 7 s compile; with
``--config.epochs=10``, 500 in all 16, 46 s); ``a2c`` 500
in 10 seeds, then 497.1, 496.6, 486.6, 459.3, 454.9 and 78.4 (median 500; 17 s wall).
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

VARIANTS = ("ppo", "a2c", "reinforce", "qac", "off_policy")
# The agent module of each variant, and the hyperparameters each reads.
MODULES = {"ppo": "ppo", "a2c": "a2c", "reinforce": "reinforce", "qac": "qac"}
MODULES["off_policy"] = "off_policy_ac"
BASE_HPARAMS = ("actor_lr", "critic_lr", "gamma")
HPARAMS = {
    "reinforce": (*BASE_HPARAMS, "entropy_coef"),
    "qac": (*BASE_HPARAMS, "entropy_coef"),
    "off_policy_ac": (*BASE_HPARAMS, "entropy_coef"),
    "a2c": (*BASE_HPARAMS, "gae_lambda", "entropy_coef"),
    "ppo": (*BASE_HPARAMS, "gae_lambda", "entropy_coef", "clip_epsilon"),
}
TOTAL_ENV_STEPS = 500_000
CHUNKS = 10


def get_config(variant: str = "ppo") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"the variant must be one of {VARIANTS}, got {variant!r}")
    ppo = variant == "ppo"
    num_envs, rollout = (8, 32) if ppo else (8, 5)
    # training steps to reach TOTAL_ENV_STEPS, rounded up to whole chunks (ppo: 1,960 rollouts,
    # 501,760 environment steps)
    total_steps = -(-TOTAL_ENV_STEPS // (num_envs * rollout * CHUNKS)) * CHUNKS
    epochs, minibatches = (4, 1) if ppo else (1, 1)
    config = runner.base(
        f"jaxrl.agents.{MODULES[variant]}",
        num_seeds=16,
        total_steps=total_steps,  # training steps per seed: a rollout and its update(s) each
        chunk_steps=total_steps // CHUNKS,
        checkpoint_every=2,
    )
    config.environment = "cartpole"  # a registered environment (jaxrl.envs), discrete actions
    config.env = ml_collections.ConfigDict({"max_steps": 500})  # its options: the time limit
    if variant == "reinforce":
        config.baseline = True  # REINFORCE's v(s) baseline
    config.discount_weighting = False  # weigh the actor's step by gamma^(step in episode)
    config.eval_episodes = 100  # sampled-policy episodes scored at the end of every chunk
    config.num_envs = num_envs  # environments per seed, stepped together
    config.rollout_length = rollout  # steps per environment between updates
    config.epochs = epochs  # passes over each rollout
    config.num_minibatches = minibatches  # minibatches per pass
    config.normalize_advantages = ppo  # standardise the actor's weights per minibatch
    config.normalize_observations = False  # running mean-variance observation normalisation
    config.scale_rewards = False  # rewards / running std of the discounted return
    config.log_std = "free"  # box actions: a learned log-std vector, or "state" (a head)
    config.init_log_std = 0.0  # box actions: the Gaussian's initial log-std
    config.hidden = (64, 64)  # hidden widths of the actor and of the critic (static)
    config.activation = "tanh"  # "tanh" or "relu"
    config.optimizer = optim.default_config()
    config.optimizer.name = "adam" if ppo else "rmsprop"
    config.optimizer.max_grad_norm = 0.5
    config.optimizer.eps = 1e-5
    config.optimizer.decay = 0.99  # rmsprop's decay
    if ppo:
        config.optimizer.schedule = "linear"  # to 0 over all the updates
        config.optimizer.decay_steps = 0  # over the whole run: its updates, from total_steps
    hparams = {
        "actor_lr": 1e-3 if ppo else 7e-4,
        "critic_lr": 1e-3 if ppo else 7e-4,
        "gamma": 0.98 if ppo else 0.99,
        "gae_lambda": 0.8 if ppo else 1.0,  # a2c and ppo: GAE's lambda (1: the 5-step return)
        "entropy_coef": 0.0,
        "clip_epsilon": 0.2,  # ppo's clip range
    }
    runner.sweep(config, {k: hparams[k] for k in HPARAMS[MODULES[variant]]}, {})
    config.lock()
    return config
