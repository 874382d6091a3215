"""referral's read models (none yet)."""
