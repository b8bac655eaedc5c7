"""onboarding feature package."""
