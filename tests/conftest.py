"""Test-wide JAX settings: silent rank promotion is an error (broadcasting must be explicit)."""

import jax

jax.config.update("jax_numpy_rank_promotion", "raise")
