"""sequence's read models (none yet)."""
