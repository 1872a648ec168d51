"""Optimal times."""
