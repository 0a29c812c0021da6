"""Datasets and loaders (to be written)."""
