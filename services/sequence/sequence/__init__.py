"""sequence: skeleton, ready for its own issue."""
