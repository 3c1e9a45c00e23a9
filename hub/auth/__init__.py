"""Authentication: API keys (hashed, scoped) for machines; users and sessions come with cases."""
