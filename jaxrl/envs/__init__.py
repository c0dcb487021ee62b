"""Pure environments: ``reset(key, params)`` / ``step(key, state, action, params)``.

Every environment, ours or a user's, reaches an agent through one protocol,
:class:`Environment` (``jaxrl.envs.registry``), made by name from the registry.
"""

from jaxrl.envs.registry import (
    SCHEMA,
    Environment,
    Finite,
    factory,
    make,
    names,
    register,
    training,
)

__all__ = ["SCHEMA", "Environment", "Finite", "factory", "make", "names", "register", "training"]
