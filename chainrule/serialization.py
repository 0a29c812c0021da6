"""save/load on safetensors (to be written)."""
