"""PPO on gymnax's Acrobot-v1 (``"gymnax:Acrobot-v1"``; needs ``pip install 'jaxrl[envs]'``).

Separate actor and critic MLPs of 64 and 64 tanh units; 16 environments per seed, rollouts of
128 steps (2,048 steps per update), 4 epochs of 4 minibatches, gamma 0.99, GAE lambda 0.95,
clip range 0.2, entropy bonus 0.01, adam at 2.5e-4 decayed linearly to 0, gradient norms
clipped at 0.5, advantages standardised per minibatch: PureJaxRL's PPO settings for gymnax's
classic-control tasks, with 16 environments instead of 4. 16 seeds of 491,520 environment steps.

The result is the sampled policy's mean return over ``eval_episodes = 100`` fresh episodes per
seed after the last chunk (Acrobot-v1 gives -1 per step until the tip swings above the line, at
most 500 steps; gymnasium's reward threshold is -100).

The decay lasts the whole run, whatever ``total_steps`` is (``jaxrl.optim.over_the_run``), so
a finished run is not extended: a larger ``total_steps`` needs another work directory.

Run:

    python -m experiments.train --config=jaxrl/configs/ppo_acrobot.py --workdir=DIR

Expected (measured 2026-12-06, 2 CPU cores shared with other runs, 47 s wall with an 11 s
compile): the final mean return over 100 sampled-policy episodes per seed, sorted: -103.28,
-98.9, -98.8, -97.58, -97.19, -96.41, -96.3, -96.02, -95.3, -95.29, -94.31, -94.16, -93.53,
-93.5, -92.89, -91.9 (median -95.7; the median first passes -100 after 295k steps).
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

TOTAL_ENV_STEPS = 500_000
NUM_ENVS, ROLLOUT = 16, 128
CHUNKS = 10


def get_config() -> ml_collections.ConfigDict:
    # training steps (one rollout and its update each), rounded down to whole chunks: 240
    # rollouts, 491,520 environment steps
    total_steps = TOTAL_ENV_STEPS // (NUM_ENVS * ROLLOUT * CHUNKS) * CHUNKS
    epochs, minibatches = 4, 4
    config = runner.base(
        "jaxrl.agents.ppo",
        num_seeds=16,
        total_steps=total_steps,
        chunk_steps=total_steps // CHUNKS,
        checkpoint_every=2,
    )
    config.environment = "gymnax:Acrobot-v1"  # gymnax's environment by name (jaxrl[envs])
    config.env = ml_collections.ConfigDict()  # its options (max_steps: the time limit)
    config.discount_weighting = False
    config.eval_episodes = 100  # sampled-policy episodes scored at the end of every chunk
    config.num_envs = NUM_ENVS  # environments per seed, stepped together
    config.rollout_length = ROLLOUT  # steps per environment between updates
    config.epochs = epochs  # passes over each rollout
    config.num_minibatches = minibatches  # minibatches per pass
    config.normalize_advantages = True  # standardise the actor's weights per minibatch
    config.normalize_observations = False  # running mean-variance observation normalisation
    config.scale_rewards = False  # rewards / running std of the discounted return
    config.log_std = "free"  # box actions: a learned log-std vector, or "state" (a head)
    config.init_log_std = 0.0  # box actions: the Gaussian's initial log-std
    config.hidden = (64, 64)  # hidden widths of the actor and of the critic (static)
    config.activation = "tanh"
    config.optimizer = optim.default_config()
    config.optimizer.name = "adam"
    config.optimizer.max_grad_norm = 0.5
    config.optimizer.eps = 1e-5
    config.optimizer.schedule = "linear"  # to 0 over all the updates
    config.optimizer.decay_steps = 0  # over the whole run: its updates, from total_steps
    hparams = {
        "actor_lr": 2.5e-4,
        "critic_lr": 2.5e-4,
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "entropy_coef": 0.01,
        "clip_epsilon": 0.2,
    }
    runner.sweep(config, hparams, {})
    config.lock()
    return config
