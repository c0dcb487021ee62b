"""A uniform random policy's episode returns on any environment: the baseline a learning curve is
read against.

    python -m experiments.random_policy --environment=gymnax:Breakout-MinAtar \
        [--episodes=10000] [--seed=0] [--env=max_steps=500]

Each action is drawn uniformly from the environment's action space (a box must be bounded);
episodes are fresh and run side by side to the time limit (``jaxrl.envs.evaluation.
random_returns``). Prints one
line: the number of episodes, the mean return and its standard error, and the 1st, 50th, 90th,
99th percentiles and the maximum of the returns.
"""

from __future__ import annotations

import jax
import numpy as np
from absl import flags, logging

from experiments import cli

_ENVIRONMENT = flags.DEFINE_string("environment", None, "A registered environment name.")
_ENV = flags.DEFINE_list("env", [], "The environment's options, NAME=VALUE (integers).")
_EPISODES = flags.DEFINE_integer("episodes", 10_000, "Episodes to score.")
_SEED = flags.DEFINE_integer("seed", 0, "The seed of the starts, the actions and the steps.")
cli.at_least("episodes")
PERCENTILES = (1, 50, 90, 99)


def main(argv):
    del argv
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # the result line only; -v 0 shows library INFO
    from jaxrl import envs
    from jaxrl.envs import evaluation

    if not _ENVIRONMENT.value:
        cli.fail("--environment is required: a registered environment name", code=2)

    options = {}
    for item in _ENV.value:
        name, _, value = item.partition("=")
        if not value.lstrip("-").isdigit():
            cli.fail(f"--env must be NAME=INTEGER items, got {item!r}", code=2)
        options[name] = int(value)
    try:
        env = envs.make(_ENVIRONMENT.value, options, where="--environment")
    except ValueError as e:
        cli.fail(str(e))
    if env.max_steps is None:
        cli.fail(f"--environment {env.name!r} has no time limit: there are no episodes to score")
    scored = jax.jit(lambda key: evaluation.random_returns(env, key, episodes=_EPISODES.value))
    returns = np.asarray(scored(jax.random.key(_SEED.value)), np.float64)
    stderr = returns.std(ddof=1) / np.sqrt(len(returns)) if len(returns) > 1 else float("nan")
    cuts = ", ".join(f"p{p} {np.percentile(returns, p):g}" for p in PERCENTILES)
    print(
        f"{env.name}: uniform random policy over {len(returns)} episodes: mean "
        f"{returns.mean():.4g} (+- {stderr:.2g} s.e.), {cuts}, max {returns.max():g}",
        flush=True,
    )


if __name__ == "__main__":
    cli.run(main)
