"""Linear value-function approximation (Zhao, ch. 8): features, the projected Bellman fixed point,
TD-linear evaluation, and linear Sarsa and Q-learning.

* :mod:`jaxrl.approx.features`: feature vectors of grid cells (one-hot, polynomial, Fourier,
  state-action blocks) and the feature matrix ``Phi``;
* :mod:`jaxrl.approx.linear`: step sizes, the projected fixed point ``w*`` (a float64 solve, and a
  LAPACK-free iteration for compiled runs), the expected TD update;
* :mod:`jaxrl.approx.td_linear`: TD-linear as a runner experiment;
* :mod:`jaxrl.approx.linear_control`: linear Sarsa and linear Q-learning as runner experiments.
"""
