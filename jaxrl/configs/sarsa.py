"""Sarsa on the book's 5x5 grid (Zhao, ch. 7.2), epsilon-greedy, swept over learning rates.

The same config runs expected Sarsa (``--config.variant=expected_sarsa``) and n-step Sarsa
(``--config.variant=n_step_sarsa --config.n=3``); see also ``expected_sarsa.py`` and
``n_step_sarsa.py``. With epsilon fixed, the target is the best epsilon-greedy policy
(``jaxrl.dp.epsilon_greedy_value_iteration``); ``value_gap`` measures how far the learned
epsilon-greedy policy's values are from it (both evaluated to within 1e-5).

Run:

    python -m experiments.train --config=jaxrl/configs/sarsa.py --workdir=DIR

Expected (measured, 2-core CPU, about 9 s): 256 seeds x 3 learning-rate scales; the mean
``value_gap`` falls from about 0.7 after 20k steps to 0.20, 0.10 and 0.061 after 200k for scales
0.5, 1 and 2 (Sarsa's sampled next action makes it slower and noisier than expected Sarsa, which
ends at 0.105, 0.065 and 0.0006).
"""

from jaxrl.configs import q_learning


def get_config():
    config = q_learning.get_config()
    with config.unlocked():
        config.experiment = "jaxrl.tabular.sarsa"  # module providing make_experiment(config)
        config.variant = "sarsa"  # "sarsa", "expected_sarsa" or "n_step_sarsa"
        config.n = 3  # steps of the n-step return (n_step_sarsa only)
        config.restart_every = 20  # continue from a uniform random state every K steps (0: never)
        config.num_seeds = 256
        config.total_steps = 200_000
        config.chunk_steps = 20_000
        config.step_size = "polynomial"
        config.step_power = 0.6
        config.hparams.learning_rate = 1.0
        config.hparams.epsilon = 0.2
        config.sweep.learning_rate = (0.5, 1.0, 2.0)
    return config
