"""overview feature package."""
