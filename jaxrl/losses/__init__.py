"""Losses, one concept per function: value regression (``value.py``)."""

from jaxrl.losses.value import huber_loss, squared_loss, td_loss

__all__ = ["huber_loss", "squared_loss", "td_loss"]
