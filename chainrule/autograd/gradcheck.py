"""gradcheck / gradgradcheck (to be written)."""
