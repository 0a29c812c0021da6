"""Module full backward hooks (to be written)."""
