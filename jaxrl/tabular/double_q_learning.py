"""Tabular Double Q-learning on the grid world.

van Hasselt (2010), "Double Q-learning", NeurIPS 23 (Algorithm 1); Sutton and Barto (2018),
sec. 6.7. Q-learning's target ``max_a q(s', a)`` takes the maximum of noisy estimates, which is
biased upwards. Double Q-learning keeps two tables, ``q_A`` and ``q_B``: at each step a fair coin
picks the one to update, and the other values the action the picked one thinks best:

    with probability 1/2:  a* = argmax_a q_A(s', a)
                           q_A(s, a) <- q_A(s, a) + alpha [r + gamma q_B(s', a*) - q_A(s, a)]
    otherwise:             b* = argmax_a q_B(s', a)
                           q_B(s, a) <- q_B(s, a) + alpha [r + gamma q_A(s', b*) - q_B(s, a)]

The behaviour is epsilon-greedy in ``q_A + q_B`` (the paper's choice); the greedy policy and the
metrics use their mean. The error is ``jaxrl.targets.double_q_learning``; everything else
(behaviour, environment steps, step sizes, ground truth, metrics, episodic task) is the scaffold
of :mod:`jaxrl.tabular.control`, so this file holds only the rule. The coin is the second of the
step's counter-based uniforms (``u < 1/2``: update ``q_A``).

Config: ``jaxrl/configs/double_q_learning.py``; fields: ``SCHEMA``, the scaffold's
(``control.SCHEMA``). Metrics as for Q-learning.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import targets
from jaxrl.run import Experiment
from jaxrl.tabular import control

SCHEMA = control.SCHEMA.extend("jaxrl.tabular.double_q_learning")
Hparams = SCHEMA.hparams_type


class Tables(NamedTuple):
    q_a: jax.Array  # [S, A]
    q_b: jax.Array  # [S, A]


def double_q_update(
    tables: Tables, transition: control.Transition, *, alpha: jax.Array, u: jax.Array
) -> Tables:
    """One Double Q-learning update: the coin ``u < 1/2`` updates ``q_A``, else ``q_B``."""
    q_a, q_b = tables
    s, a, s_next = transition.s, transition.a, transition.s_next
    r, discount = transition.r, transition.discount
    # Each table's error with the other valuing its greedy action; the coin keeps one of them.
    error_a = targets.double_q_learning(q_a[s], a, r, discount, q_b[s_next], q_a[s_next])
    error_b = targets.double_q_learning(q_b[s], a, r, discount, q_a[s_next], q_b[s_next])
    first = u < 0.5
    return Tables(
        q_a=q_a.at[s, a].add(jnp.where(first, alpha * error_a, 0.0)),
        q_b=q_b.at[s, a].add(jnp.where(first, 0.0, alpha * error_b)),
    )


def make_experiment(config) -> Experiment:
    """The runner's view of Double Q-learning (see ``jaxrl/configs/double_q_learning.py``)."""
    return control.make_control_experiment(
        config,
        SCHEMA,
        init_tables=lambda num_states, num_actions: Tables(
            jnp.zeros((num_states, num_actions)), jnp.zeros((num_states, num_actions))
        ),
        q_values=lambda tables: (tables.q_a + tables.q_b) / 2.0,
        update=double_q_update,
    )
