"""n-step Sarsa on the book's 5x5 grid (Zhao, ch. 7.3): the Sarsa config, variant "n_step_sarsa".

Run:

    python -m experiments.train --config=jaxrl/configs/n_step_sarsa.py --workdir=DIR
"""

from jaxrl.configs import sarsa


def get_config():
    config = sarsa.make("n_step_sarsa")
    config.lock()
    return config
