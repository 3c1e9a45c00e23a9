"""NLP: language, sentiment and topics for feedback text; a pure library (texts in, labels out).

It never touches the database, and the API process never imports it (torch stays out of the
web workers). The models and the worker arrive with the NLP issue.
"""
