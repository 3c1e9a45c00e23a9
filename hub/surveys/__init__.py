"""Surveys: what an embedded widget asks, its public key, and the responses it posts."""
