"""Gradient-flow diagnostics (to be written)."""
