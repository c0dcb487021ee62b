"""jaxrl: a JAX functional research codebase for reinforcement learning."""

__version__ = "0.1.0"
