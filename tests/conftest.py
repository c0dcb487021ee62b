"""Test-wide JAX settings: silent rank promotion is an error, as in DESIGN.md."""

import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
