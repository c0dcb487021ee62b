"""Expected Sarsa on the book's 5x5 grid (Zhao, ch. 7.3): the Sarsa config, "expected_sarsa".

Run:

    python -m experiments.train --config=jaxrl/configs/expected_sarsa.py --workdir=DIR
"""

from jaxrl.configs import sarsa


def get_config():
    config = sarsa.make("expected_sarsa")
    config.lock()
    return config
