"""The examples of chapters 2-7 of the book: figures, a values file, a report.

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning" ch. 2 (state
values and the Bellman equation), ch. 3 (the Bellman optimality equation) and ch. 4 (value
iteration, policy iteration and truncated policy iteration), ch. 5 (MC basic and the episode
length; optimal epsilon-greedy policies), ch. 6 (mean estimation, Robbins-Monro) and ch. 7
(TD(0), Sarsa, expected Sarsa, Q-learning; path finding);
https://github.com/MathFoundationRL/Book-Mathematical-Foundation-of-Reinforcement-Learning

Run::

    python -m experiments.book --workdir=runs/book
    python -m experiments.book --workdir=runs/book_r10 --config.reward_forbidden=-10

It writes PNG figures, ``values.json`` and a self-contained ``report.html`` into the workdir in
well under a minute on a 2-core CPU. With the defaults the optimal state values of the 5x5 grid at
gamma = 0.9 are the book's (ch. 3): first row [5.8, 5.6, 6.2, 6.5, 5.8], last row
[7.2, 9.0, 10.0, 9.0, 8.1]; the 2x2 example of ch. 2 has v = [9, 10, 10, 10]; policy iteration
from "always stay" is stable after a handful of steps; and ||v_k - v*||_inf falls geometrically
for value iteration and for truncated policy iteration, faster the longer the truncation. Ch. 5:
MC basic's values with L = 1 are 0 except at and next to the target, and optimal for L = 100; the
optimal epsilon-greedy values fall in every state as epsilon grows. Ch. 7 (64 seeds x 200k steps,
about 15 s): every error curve falls; off-policy Q-learning from a uniform behaviour finds the
optimal policy in every seed (value error 0). Ch. 6: with a_k = 1/k the estimate of E[X] = 5
is within a few standard errors sigma/sqrt(k) of it (spread over seeds 0.13 at k = 2000), while
the constant step 0.05 keeps a spread near sqrt(a Var[X] / (2 - a)) = 0.92. Ch. 7 path finding
(16 seeds x 100k steps, a few seconds): Q-learning's greedy path from (0, 0) takes the optimal
11 steps in every seed.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """The default configuration (locked: unknown fields are errors)."""
    config = ml_collections.ConfigDict()
    # Discount of every chapter 2 and chapter 4 example, in [0, 1).
    config.gamma = 0.9
    # Reward for a move that would leave the grid (the book's r_boundary).
    config.reward_boundary = -1.0
    # Reward for landing in a forbidden cell (the book's r_forbidden).
    config.reward_forbidden = -1.0
    # Reward for landing in the target cell (the book's r_target).
    config.reward_target = 1.0
    # Reward for landing in any other cell.
    config.reward_step = 0.0
    # Chapter 3: discounts whose optimal policies are compared (each in [0, 1)).
    config.chapter3_gammas = (0.9, 0.5, 0.0)
    # Chapter 3: the forbidden-cell reward of the "strong punishment" example (at `gamma`).
    config.strong_reward_forbidden = -10.0
    # Chapter 3: constant b added to every reward to show r -> r + b keeps the optimal policy.
    config.reward_shift = 1.0
    # Stopping tolerance of value iteration on max_s |v_{k+1}(s) - v_k(s)|.
    config.tol = 1e-6
    # Cap on value-iteration sweeps.
    config.max_iterations = 10_000
    # Chapter 4: most policy-iteration steps shown in the policy-sequence figure.
    config.policy_iteration_steps = 8
    # Chapter 4: truncation lengths j of truncated policy iteration (j = 1 is value iteration).
    config.truncations = (1, 3, 6, 20, 100)
    # Chapter 4: iterations k of the ||v_k - v*|| convergence curves.
    config.num_iterations = 100
    # Chapter 5: episode lengths L of MC basic (the book's figure on the episode length).
    config.mc_episode_lengths = (1, 2, 3, 4, 14, 15, 30, 100)
    # Chapter 5: evaluate-improve iterations of MC basic (it is stable after about 5).
    config.mc_iterations = 20
    # Chapter 5: epsilons of the optimal epsilon-greedy policies (each in [0, 1]).
    config.epsilons = (0.0, 0.1, 0.2, 0.5)
    # Chapter 6: base seed of the mean-estimation samples; seed i uses fold_in(key(sa_seed), i).
    config.sa_seed = 0
    # Chapter 6: independent sample streams (seeds), for the mean, 95% band and spread.
    config.sa_num_seeds = 64
    # Chapter 6: samples x_1..x_K per stream (K, the last k of the curves).
    config.sa_steps = 2000
    # Chapter 6: X is uniform on [sa_low, sa_high] (E[X] is their midpoint); sa_low < sa_high.
    config.sa_low = -5.0
    # Chapter 6: upper end of X's range (see sa_low).
    config.sa_high = 15.0
    # Chapter 6: the initial estimate w_1 (the 1/k step replaces it at once; a constant one not).
    config.sa_initial_estimate = 0.0
    # Chapter 6: exponent p of the Robbins-Monro step a_k = 1/k^p, in (1/2, 1].
    config.sa_power = 0.75
    # Chapter 6: the constant step size a_k = a, in (0, 1] (it does not converge).
    config.sa_constant_step = 0.05
    # Chapter 7: base seed of the TD runs; seed i uses fold_in(key(td_seed), i).
    config.td_seed = 0
    # Chapter 7: independent runs (seeds) per algorithm, for the mean and 95% band.
    config.td_num_seeds = 64
    # Chapter 7: environment steps per seed of every TD algorithm.
    config.td_steps = 200_000
    # Chapter 7: chunks (points of each learning curve); must divide td_steps.
    config.td_chunks = 40
    # Chapter 7 path finding (Q-learning and Sarsa path-finding configs): base seed.
    config.pf_seed = 0
    # Chapter 7 path finding: independent runs (seeds) per algorithm.
    config.pf_num_seeds = 16
    # Chapter 7 path finding: environment steps per seed (episodes restart at the start cell).
    config.pf_steps = 100_000
    # Chapter 7 path finding: chunks (points of the path-length curve); must divide pf_steps.
    config.pf_chunks = 10
    # Resolution of the PNG figures, dots per inch.
    config.dpi = 90
    config.lock()
    return config
