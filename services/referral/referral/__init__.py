"""referral: skeleton, ready for its own issue."""
