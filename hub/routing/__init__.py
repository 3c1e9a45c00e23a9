"""Routing: rules as data that send feedback needing action to a team or person, as a case."""
