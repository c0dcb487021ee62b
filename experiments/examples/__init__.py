"""Runnable examples of research code built on jaxrl from outside the library (README: "Write
your own agent"). Each is what a fork's own package would hold: an experiment module and its
config, launched by ``python -m experiments.train`` and read back with ``jaxrl.run.load``."""
