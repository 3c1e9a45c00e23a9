"""Customers: whoever gave the feedback, so all of it reads as one history."""
