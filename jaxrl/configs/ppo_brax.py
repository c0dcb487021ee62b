"""PPO with a Gaussian policy on Brax's inverted pendulum (``"brax:inverted_pendulum"``; needs
``pip install 'jaxrl[envs]'``).

Actor and critic MLPs of 64 and 64 tanh units; a diagonal Gaussian policy with a learned
log-std vector (from 0), its draws clipped to the action box ``[-1, 1]``; running observation
normalisation and reward scaling; 64 environments per seed, rollouts of 32 steps (2,048 steps
per update), 4 epochs of 4 minibatches, gamma 0.99, GAE lambda 0.95, clip range 0.2, no entropy
bonus, adam at 3e-4 decayed linearly to 0, gradient norms clipped at 0.5, advantages
standardised per minibatch. Brax's generalized pipeline (its default; on a CPU-only host on
one device, see ``td3_brax.py``), episodes of at most 1,000 steps, 4 seeds of 1M environment
steps.

The result is the sampled policy's mean return over ``eval_episodes = 20`` fresh episodes per
seed after every chunk (at most 1,000).

The decay lasts the whole run, whatever ``total_steps`` is (``jaxrl.optim.over_the_run``), so
a finished run is not extended: a larger ``total_steps`` needs another work directory.

Run:

    python -m experiments.train --config=jaxrl/configs/ppo_brax.py --workdir=DIR

Expected (measured 2026-12-06, 2 CPU cores, the seeds on one device, 1 min 47 s wall with a
29 s compile): the final sampled-policy returns per seed 1,000, 1,000, 1,000 and 983.1 (median
1,000); the median over seeds was 1,000 after every chunk from the first (98,304 steps).
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

TOTAL_ENV_STEPS = 1_000_000
NUM_ENVS, ROLLOUT = 64, 32
CHUNKS = 10


def get_config() -> ml_collections.ConfigDict:
    # training steps (one rollout and its update each), rounded down to whole chunks: 480
    # rollouts, 983,040 environment steps
    total_steps = TOTAL_ENV_STEPS // (NUM_ENVS * ROLLOUT * CHUNKS) * CHUNKS
    epochs, minibatches = 4, 4
    config = runner.base(
        "jaxrl.agents.ppo",
        num_seeds=4,
        total_steps=total_steps,
        chunk_steps=total_steps // CHUNKS,
        checkpoint_every=2,
    )
    config.environment = "brax:inverted_pendulum"  # Brax's environment by name (jaxrl[envs])
    config.env = ml_collections.ConfigDict({"max_steps": 1000, "backend": "generalized"})
    config.discount_weighting = False
    config.eval_episodes = 20  # sampled-policy episodes scored at the end of every chunk
    config.num_envs = NUM_ENVS  # environments per seed, stepped together
    config.rollout_length = ROLLOUT  # steps per environment between updates
    config.epochs = epochs  # passes over each rollout
    config.num_minibatches = minibatches  # minibatches per pass
    config.normalize_advantages = True  # standardise the actor's weights per minibatch
    config.normalize_observations = True  # running mean-variance observation normalisation
    config.scale_rewards = True  # rewards / running std of the discounted return
    config.log_std = "free"  # a learned log-std vector (state-independent)
    config.init_log_std = 0.0  # the Gaussian's initial log-std
    config.hidden = (64, 64)  # hidden widths of the actor and of the critic (static)
    config.activation = "tanh"
    config.optimizer = optim.default_config()
    config.optimizer.name = "adam"
    config.optimizer.max_grad_norm = 0.5
    config.optimizer.eps = 1e-5
    config.optimizer.schedule = "linear"  # to 0 over all the updates
    config.optimizer.decay_steps = 0  # over the whole run: its updates, from total_steps
    hparams = {
        "actor_lr": 3e-4,
        "critic_lr": 3e-4,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "entropy_coef": 0.0,
        "clip_epsilon": 0.2,
    }
    runner.sweep(config, hparams, {})
    config.lock()
    return config
