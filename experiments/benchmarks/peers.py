"""Plain-Python peers of the tabular benchmarks: the algorithms as a student would write them.

They live apart from the benchmark binary (which defines absl flags) so that tests can import
them. Both follow the library's conventions exactly: one uniform ``u`` per action choice; when
``u < epsilon`` the action is ``floor(5 u / epsilon)`` (uniform over the five), otherwise the
greedy one (``list.index(max(...))``: the lowest index on ties).
"""

from __future__ import annotations

import random

NUM_ACTIONS = 5


def python_q_learning(
    next_state: list[list[int]],
    reward: list[list[float]],
    *,
    steps: int,
    learning_rate: float,
    epsilon: float,
    gamma: float,
    seed: int,
) -> list[list[float]]:
    """The peer: tabular Q-learning as a plain Python loop over steps, one seed.

    The epsilon-greedy rule is the library's: one uniform ``u`` per step; when ``u < epsilon`` the
    action is ``floor(5 u / epsilon)`` (uniform over the five, as ``u / epsilon`` is uniform),
    otherwise the greedy action (``list.index(max(...))``: the lowest index on ties).
    """
    rnd = random.Random(seed)
    uniform = rnd.random
    num_states = len(next_state)
    q = [[0.0] * NUM_ACTIONS for _ in range(num_states)]
    scale = NUM_ACTIONS / epsilon if epsilon > 0 else 0.0
    s = rnd.randrange(num_states)
    for _ in range(steps):
        q_s = q[s]
        u = uniform()
        if u < epsilon:
            a = int(u * scale)
            if a >= NUM_ACTIONS:  # float rounding when u / epsilon is within 1 ulp of 1
                a = NUM_ACTIONS - 1
        else:
            a = q_s.index(max(q_s))
        s_next = next_state[s][a]
        q_s[a] += learning_rate * (reward[s][a] + gamma * max(q[s_next]) - q_s[a])
        s = s_next
    return q


def python_sarsa(
    next_state: list[list[int]],
    reward: list[list[float]],
    *,
    steps: int,
    learning_rate: float,
    epsilon: float,
    gamma: float,
    seed: int,
) -> list[list[float]]:
    """The Sarsa peer: the same loop, with the next action drawn before the update and used in
    the target ``r + gamma q(s', a')`` (the library's ``sarsa`` variant, constant step size)."""
    rnd = random.Random(seed)
    uniform = rnd.random
    num_states = len(next_state)
    q = [[0.0] * NUM_ACTIONS for _ in range(num_states)]
    scale = NUM_ACTIONS / epsilon if epsilon > 0 else 0.0

    def act(q_s):
        u = uniform()
        if u < epsilon:
            return min(int(u * scale), NUM_ACTIONS - 1)
        return q_s.index(max(q_s))

    s = rnd.randrange(num_states)
    a = act(q[s])
    for _ in range(steps):
        s_next = next_state[s][a]
        a_next = act(q[s_next])
        q_s = q[s]
        q_s[a] += learning_rate * (reward[s][a] + gamma * q[s_next][a_next] - q_s[a])
        s, a = s_next, a_next
    return q


def python_mc_epsilon_greedy(
    next_state: list[list[int]],
    reward: list[list[float]],
    *,
    steps: int,
    episode_length: int,
    epsilon: float,
    gamma: float,
    seed: int,
) -> list[list[float]]:
    """MC epsilon-greedy (Zhao, Algorithm 5.3): episodes of ``episode_length`` steps from a
    uniformly drawn cell, every action epsilon-greedy in the current ``q``; then every-visit
    returns (computed backwards) averaged into ``q`` incrementally. ``steps`` environment steps."""
    rnd = random.Random(seed)
    uniform = rnd.random
    num_states = len(next_state)
    q = [[0.0] * NUM_ACTIONS for _ in range(num_states)]
    counts = [[0] * NUM_ACTIONS for _ in range(num_states)]
    scale = NUM_ACTIONS / epsilon if epsilon > 0 else 0.0
    for _ in range(steps // episode_length):
        s = rnd.randrange(num_states)
        visited = []
        for _ in range(episode_length):
            u = uniform()
            if u < epsilon:
                a = min(int(u * scale), NUM_ACTIONS - 1)
            else:
                q_s = q[s]
                a = q_s.index(max(q_s))
            visited.append((s, a, reward[s][a]))
            s = next_state[s][a]
        g = 0.0
        for s, a, r in reversed(visited):
            g = r + gamma * g
            counts[s][a] += 1
            q[s][a] += (g - q[s][a]) / counts[s][a]
    return q
