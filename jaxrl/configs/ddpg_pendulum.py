"""DDPG (and TD3, ``:td3``) on Pendulum-v1: 8 vmapped seeds x 20,000 environment steps.

Settings: one environment per seed, one critic step per environment step on minibatches of 256
from a 20,000-transition buffer (all of training), uniformly random actions for the first 1,000
steps, then Gaussian exploration noise of 0.1 times the bound; actor and critic MLPs of 64 and 64
ReLU units (the usual 256 and 256 cost 5x the time here), adam at 1e-3 (both), tau 0.005, gamma
0.99. ``:td3`` switches on TD3's three
fixes: twin critics with the clipped double-Q target, target policy smoothing (noise 0.2 times
the bound, clipped at 0.5 times it) and an actor step every 2 critic steps.

Run:

    python -m experiments.train --config=jaxrl/configs/ddpg_pendulum.py --workdir=DIR
    python -m experiments.train --config=jaxrl/configs/ddpg_pendulum.py:td3 --workdir=DIR

Expected (measured 2026-12-02, 2 busy CPU cores): the deterministic policy's mean return over
100 evaluation episodes after 20,000 steps is -154.5 to -142.6 in every seed for DDPG (28 s
wall) and -157.9 to -140.3 for TD3 (40 s); the median over seeds passes -200 after 6,000 steps
(DDPG) and 8,000 (TD3).
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

VARIANTS = ("ddpg", "td3")
TOTAL_STEPS = 20_000


def get_config(variant: str = "ddpg") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"the variant must be one of {VARIANTS}, got {variant!r}")
    td3 = variant == "td3"
    config = runner.base(
        "jaxrl.agents.ddpg",
        num_seeds=8,
        total_steps=TOTAL_STEPS,  # training steps per seed: one environment step each
        chunk_steps=TOTAL_STEPS // 10,
        checkpoint_every=5,
    )
    config.environment = "pendulum"  # a registered environment (jaxrl.envs) with a box of actions
    config.env = ml_collections.ConfigDict({"max_steps": 200})  # its options: the time limit
    config.eval_episodes = 100  # deterministic-policy episodes scored after every chunk
    config.num_envs = 1  # environments per seed, stepped together
    config.updates_per_step = 1  # critic steps per training step
    config.hidden = (64, 64)  # hidden widths of the actor and of each critic (static)
    config.buffer_capacity = TOTAL_STEPS  # replay buffer size (transitions per seed)
    config.batch_size = 256  # minibatch size
    config.learning_starts = 1_000  # uniformly random actions until the buffer holds this many
    config.noise = "gaussian"  # exploration noise: "gaussian" or "ou" (Ornstein-Uhlenbeck)
    config.ou_theta = 0.15  # the OU noise's pull back to 0 per step
    config.twin = td3  # TD3's twin critics (the clipped double-Q target)
    config.optimizer = optim.default_config()  # adam
    runner.sweep(
        config,
        {
            "actor_lr": 1e-3,
            "critic_lr": 1e-3,
            "gamma": 0.99,
            "tau": 0.005,
            "noise_scale": 0.1,  # exploration noise std, in units of the action bound
            "policy_delay": 2 if td3 else 1,  # training steps per actor step
            "target_noise": 0.2 if td3 else 0.0,  # target policy smoothing's std (bound units)
            "target_noise_clip": 0.5 if td3 else 0.0,  # and its clip (bound units)
        },
        {},
    )
    config.lock()
    return config
