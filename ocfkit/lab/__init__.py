"""Labs that run ocfkit for real: guests, clusters."""
