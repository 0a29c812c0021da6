"""Bundled and downloadable data sets (to be written)."""
