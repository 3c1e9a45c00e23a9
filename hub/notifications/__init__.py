"""Notifications: an outbox written with each change, delivered by email, Slack and webhooks."""
