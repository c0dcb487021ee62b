"""The bandit example's config (``experiments/examples/bandit.py``): 10 arms, 64 seeds, three
values of epsilon in one program.

    python -m experiments.train --config=experiments/examples/bandit_config.py --workdir=DIR
    python -m experiments.evaluate --workdir=DIR

Expected (measured, 2 cores, about 5 s in all): after 10,000 pulls the greedy arm is the best
arm in 49 of 64 seeds with epsilon 0 (greedy from zero estimates can lock onto a worse arm) and in
all 64 with 0.01 and 0.1; the last chunk's regret per pull is 0.29, 0.016 and 0.147, the last
close to what exploring alone costs, epsilon times the best arm's lead over the average arm:
0.1 x (1.5 - 0.02) = 0.148.
"""

import ml_collections

from jaxrl.configs import runner


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "experiments.examples.bandit",  # the module with make_experiment(config)
        num_seeds=64,
        total_steps=10_000,  # pulls per seed
        chunk_steps=1_000,
        checkpoint_every=5,
    )
    config.arm_means = (0.2, -0.8, 1.5, 0.4, 1.2, -1.5, -0.1, -1.0, 0.8, -0.5)
    runner.sweep(config, {"epsilon": 0.1}, {"epsilon": (0.0, 0.01, 0.1)})
    config.lock()
    return config
