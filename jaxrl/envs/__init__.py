"""Pure environments: ``reset(key, params)`` / ``step(key, state, action, params)``."""
