"""Tabular Monte Carlo and temporal-difference control on finite MDPs."""
