"""Music analysis: pure functions over note lists (numpy only)."""
