"""language feature package."""
