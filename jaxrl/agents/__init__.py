"""Deep agents, one readable file each: ``dqn.py``."""
