"""The main job: the examples of chapters 2-10 of the book, and preference optimisation beyond it:
figures, a values file, a report.

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning" ch. 2 (state
values and the Bellman equation), ch. 3 (the Bellman optimality equation) and ch. 4 (value
iteration, policy iteration and truncated policy iteration), ch. 5 (MC basic and the episode
length; optimal epsilon-greedy policies), ch. 6 (mean estimation, Robbins-Monro), ch. 7
(TD(0), Sarsa, expected Sarsa, Q-learning, Double Q-learning; path finding), ch. 8 (TD-linear
with one-hot, polynomial and Fourier features; deep Q-learning) and ch. 9-10 (REINFORCE, QAC,
A2C and off-policy actor-critic with a tabular softmax policy; DDPG and TD3 on Pendulum);
https://github.com/MathFoundationRL/Book-Mathematical-Foundation-of-Reinforcement-Learning

Run::

    python -m experiments.book --workdir=runs/book
    python -m experiments.book --workdir=runs/quick --config.ch7.num_seeds=16 \
        --config.ch8.dqn.num_seeds=4

The shared fields (gamma, the rewards, value iteration's tolerance, dpi) come first; each chapter
has a block (``config.ch3`` .. ``config.ch8``, ``config.ch9_10``, ``config.path_finding``;
chapter 2 reads only the shared fields), read by its module in ``experiments/book``. Measured on
2 CPU cores shared with other work: about 130 s for the defaults, of which chapter 7 (64 seeds x
200k steps for each of six algorithms) takes 11-17 s, chapter 8 38-57 s (TD-linear, 7 feature
sets x 32 seeds x 200k steps: 10 s; DQN, 16 seeds x 20k steps: 30-42 s), chapters 9-10 33 s
(five algorithms, 8 seeds x 5,000 updates each) and section 10.5 32 s (DDPG and TD3 on
Pendulum, 4 seeds x 8,000 steps each). The preference section after it (DPO, PPO-RLHF and GRPO on
the preference bandit, 4 seeds x 4 betas x 2,000 steps each) adds about 7 s: 155 s in all on 2
idle Intel Xeon cores (2026-12-07).

Expected with the defaults: the optimal state values at gamma = 0.9 are the book's Figure 3.4(a)
(first row 5.8 5.6 6.2 6.5 5.8, last row 7.2 9.0 10.0 9.0 8.1); the 2x2 example has v = [9, 10,
10, 10]; policy iteration from "always stay" is stable after a handful of steps; ||v_k - v*||_inf
falls geometrically, faster the longer the truncation. Ch. 5 (r_forbidden = -10, as in the book):
MC basic reproduces every printed value of Figure 5.4 (L = 1 .. 100) and the best epsilon-greedy
policies those of Figure 5.7. Ch. 6: with a_k = 1/k the estimate of E[X] = 5 is within a few
standard errors sigma/sqrt(k) of it (spread over seeds 0.13 at k = 2000), while the constant step
0.05 keeps a spread near sqrt(a Var[X] / (2 - a)) = 0.92. Ch. 7: every error curve falls;
Q-learning (on and off policy) and Double Q-learning find the optimal policy in every seed
(value error 0); path finding: Q-learning's and Sarsa's greedy paths from (0, 0) take
the optimal 11 steps in every seed. Ch. 8: TD-linear ends within about 0.07 of Phi w* (max over
the cells, mean over seeds) for every feature set, and its RMSE to v_pi levels off at Phi w*'s
own: 0 one-hot, 0.223 / 0.194 / 0.125 for polynomial orders 1-3, 0.207 / 0.137 / 0.097 for
Fourier q = 1-3; DQN's greedy policy is optimal in all 16 seeds, the RMSE of its estimated values
to v* 0.004 (mean over seeds; largest 0.02). Ch. 9-10: off-policy actor-critic and A2C end
near-optimal (the softmax policy within 0.1 of v* at every state) in every seed; REINFORCE with
a baseline and QAC are still leaving the near-tie plateau at (0, 1)-(0, 2) in some seeds after
5,000 updates (their library configs run 10,000 and 20,000); REINFORCE without a baseline stays
on it. Section 10.5: DDPG's and TD3's deterministic policies return about -150 to -190 per episode
after 8,000 steps (a seed or two may still be swinging up, near -400), from about -1,600 before
learning. The preference section: every method within 0.001 of its beta's ``pi*`` (``E_x KL(pi*
|| pi)``: DPO at most 4e-7, PPO-RLHF 2e-5, GRPO 2e-4).
"""

import ml_collections


def _block(**fields) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(fields)


def get_config() -> ml_collections.ConfigDict:
    """The default configuration (locked: unknown fields are errors)."""
    config = ml_collections.ConfigDict()
    # Shared by every chapter. Discount, in [0, 1).
    config.gamma = 0.9
    # Reward for a move that would leave the grid (the book's r_boundary).
    config.reward_boundary = -1.0
    # Reward for landing in a forbidden cell (the book's r_forbidden; ch. 5 has its own).
    config.reward_forbidden = -1.0
    # Reward for landing in the target cell (the book's r_target).
    config.reward_target = 1.0
    # Reward for landing in any other cell (the book's r_other).
    config.reward_step = 0.0
    # Stopping tolerance of value iteration on max_s |v_{k+1}(s) - v_k(s)|.
    config.tol = 1e-6
    # Cap on value-iteration sweeps.
    config.max_iterations = 10_000
    # Resolution of the PNG figures, dots per inch: the report shows them at their own size, so
    # that a grid cell's numbers are about 11 pixels tall at 100% zoom.
    config.dpi = 110
    # Chapter 2 reads only the shared fields.
    config.ch3 = _block(
        # Discounts whose optimal policies are compared (each in [0, 1)): Figure 3.4(a)-(c).
        gammas=(0.9, 0.5, 0.0),
        # The forbidden-cell reward of the "strong punishment" example: Figure 3.4(d).
        strong_reward_forbidden=-10.0,
        # Constant b added to every reward to show r -> r + b keeps the optimal policy.
        reward_shift=1.0,
    )
    config.ch4 = _block(
        # Most policy-iteration steps shown in the policy-sequence figure.
        policy_iteration_steps=8,
        # Truncation lengths j of truncated policy iteration (j = 1 is value iteration).
        truncations=(1, 3, 6, 20, 100),
        # Iterations k of the ||v_k - v*|| convergence curves.
        num_iterations=100,
    )
    config.ch5 = _block(
        # The chapter's r_forbidden: the book's Figures 5.4 and 5.7 use -10.
        reward_forbidden=-10.0,
        # Episode lengths L of MC basic: the panels of Figure 5.4.
        episode_lengths=(1, 2, 3, 4, 14, 15, 30, 100),
        # Evaluate-improve iterations of MC basic (it is stable after about 5).
        iterations=20,
        # Epsilons of the optimal epsilon-greedy policies (each in [0, 1]): Figure 5.7.
        epsilons=(0.0, 0.1, 0.2, 0.5),
    )
    config.ch6 = _block(
        # Base seed of the mean-estimation samples; seed i uses fold_in(key(seed), i).
        seed=0,
        # Independent sample streams (seeds), for the mean, 95% band and spread; at least 2.
        num_seeds=64,
        # Samples x_1..x_K per stream (K, the last k of the curves).
        steps=2000,
        # X is uniform on [low, high] (E[X] is their midpoint); low < high.
        low=-5.0,
        high=15.0,
        # The initial estimate w_1 (the 1/k step replaces it at once; a constant one not).
        initial_estimate=0.0,
        # Exponent p of the Robbins-Monro step a_k = 1/k^p, in (1/2, 1].
        power=0.75,
        # The constant step size a_k = a, in (0, 1] (it does not converge).
        constant_step=0.05,
    )
    config.ch7 = _block(
        # Base seed of the TD runs; seed i uses fold_in(key(seed), i).
        seed=0,
        # Independent runs (seeds) per algorithm, for the mean and 95% band.
        num_seeds=64,
        # Environment steps per seed of every TD algorithm.
        steps=200_000,
        # Chunks (points of each learning curve); must divide steps.
        chunks=40,
    )
    # Chapter 7 path finding (the Q-learning and Sarsa path-finding library configs).
    config.path_finding = _block(
        # Base seed; seed i uses fold_in(key(seed), i).
        seed=0,
        # Independent runs (seeds) per algorithm.
        num_seeds=16,
        # Environment steps per seed (episodes restart at the start cell).
        steps=100_000,
        # Chunks (points of the path-length curve); must divide steps.
        chunks=10,
    )
    # Chapter 8: TD-linear (the Figure 8.6-8.8 setting: the uniform policy on the shared
    # rewards) and DQN off-policy (Figure 8.11: the dqn_grid library config, r_boundary =
    # r_forbidden = -10); the algorithms' hyperparameters stay the library configs'.
    config.ch8 = _block(
        # Feature sets of TD-linear, each one compiled program: "onehot" (tabular), "poly1"-
        # "poly3" (Figure 8.7), "fourier1"-"fourier3" (Figure 8.8); any of
        # jaxrl.approx.features.FEATURE_SETS of full rank on the grid.
        features=("onehot", "poly1", "poly2", "poly3", "fourier1", "fourier2", "fourier3"),
        td_linear=_block(
            # Base seed of the TD-linear runs; seed i uses fold_in(key(seed), i).
            seed=0,
            # Independent runs (seeds) per feature set, for the mean and 95% band.
            num_seeds=32,
            # Environment steps per seed: one long trajectory of the uniform policy.
            steps=200_000,
            # Chunks (points of each learning curve); must divide steps.
            chunks=20,
        ),
        dqn=_block(
            # Base seed of the DQN runs; seed i uses fold_in(key(seed), i).
            seed=0,
            # Independent runs (seeds) of DQN.
            num_seeds=16,
            # Environment steps per seed (one update each once the 1,000-transition buffer is
            # full; the learning rate decays linearly to 0 over the updates); > 1,000.
            steps=20_000,
            # Chunks (points of the learning curves); must divide steps.
            chunks=20,
        ),
    )
    # Chapters 9-10: REINFORCE (with and without a baseline), QAC, A2C and off-policy
    # actor-critic with a tabular softmax policy (the actor_critic_grid library configs, each
    # with its own environments and episode length per update).
    config.ch9_10 = _block(
        # Base seed of the runs; seed i uses fold_in(key(seed), i).
        seed=0,
        # Independent runs (seeds) per algorithm, for the mean and 95% band.
        num_seeds=8,
        # Updates per seed (one per rollout of every environment).
        steps=5_000,
        # Chunks (points of each learning curve); must divide steps.
        chunks=20,
        # The algorithms to run (actor_critic_grid variants, any non-empty subset; they are
        # reported in this order).
        algorithms=("reinforce_no_baseline", "reinforce", "qac", "a2c", "off_policy"),
    )
    # Section 10.5: DDPG and TD3 on Pendulum (the ddpg_pendulum library config and its td3
    # variant).
    config.dpg = _block(
        # Base seed of the runs; seed i uses fold_in(key(seed), i).
        seed=0,
        # Independent runs (seeds) per algorithm, for the mean and 95% band.
        num_seeds=4,
        # Environment steps per seed (one update each after the first 1,000).
        steps=8_000,
        # Chunks (points of the learning curves); must divide steps.
        chunks=8,
        # The algorithms to run ("ddpg", "td3": any non-empty subset, reported in this order).
        algorithms=("ddpg", "td3"),
    )
    # Beyond the book: DPO, PPO-RLHF and GRPO on the preference bandit (their library configs:
    # dpo_bandit, ppo_rlhf_bandit, grpo_bandit), each a vmapped sweep over beta.
    config.preferences = _block(
        # Base seed of the runs; seed i uses fold_in(key(seed), i).
        seed=0,
        # Independent runs (seeds) per method and beta.
        num_seeds=4,
        # Optimizer steps per run (the library configs' 2,000).
        steps=2_000,
        # Chunks (points recorded); must divide steps.
        chunks=4,
        # The KL penalties swept, each against its own pi*.
        betas=(0.1, 0.3, 1.0, 3.0),
    )
    config.lock()
    return config
