r"""The main job: the examples of chapters 2-7 of Zhao's book: figures, values.json, report.html.

Reproduces S. Zhao, "Mathematical Foundations of Reinforcement Learning", one module per chapter:

* ``ch2``: state values of several policies on the book's 5x5 grid (exact policy evaluation) and
  the 2x2 example with v = [9, 10, 10, 10];
* ``ch3``: optimal values and policies for several discounts, for a strongly punished forbidden
  area, and the invariance of the optimal policy under r -> r + b (value iteration);
* ``ch4``: the sequence of policies of policy iteration, and ||v_k - v*||_inf against k for value
  iteration, truncated policy iteration with several truncation lengths and policy iteration;
* ``ch5``: MC basic's values and policies for several episode lengths, and the best
  epsilon-greedy policies and their values for several epsilons (r_forbidden = -10, as the book);
* ``ch6``: mean estimation by Robbins-Monro with a_k = 1/k (the incremental mean), 1/k^p and a
  constant step: estimates against k over seeds, and the RMS error against sigma / sqrt(k);
* ``ch7``: learning curves (mean and 95% interval over seeds) of TD(0), Q-learning on and off
  policy, Double Q-learning, Sarsa and expected Sarsa against the dynamic-programming answers,
  run as one compiled program over seeds (``jaxrl.run.train``), and off-policy Q-learning's policy;
* ``path_finding``: the episodic task of ch. 7 by Q-learning and Sarsa: seed 0's greedy policy and
  path, and the greedy path length against steps next to the optimal 11 steps.

``common`` holds what they share and the chapter interface; ``report`` runs them and writes the
files; ``__main__`` is the binary. Usage::

    python -m experiments.book --workdir=runs/book
    python -m experiments.book --workdir=runs/book --config.gamma=0.5 --config.ch7.num_seeds=16

Everything is written into ``--workdir`` (created if missing): ``*.png``, ``values.json`` (every
value and policy, rounded, with the config and what each figure reproduces) and ``report.html``
(self-contained: the images are embedded as data URIs). See ``jaxrl/configs/book.py`` for the
fields and the expected results.
"""
