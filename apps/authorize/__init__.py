"""The authorization endpoint (/o/authorize/): validation before sign-in, prompt and
max_age, the consent screen (consent records live in apps.consent), error pages and redirects."""
