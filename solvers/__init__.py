"""Solvers of the P1 problem: heuristics, exact models and RL agents, each registered by
name in :mod:`dcibench.registry`."""
