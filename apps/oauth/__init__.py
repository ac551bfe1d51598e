"""The OAuth data model: DOT's swappable models and ours (apps/oauth/models/), with their
migrations. Behaviour lives in the apps that use them (docs/architecture.md)."""
