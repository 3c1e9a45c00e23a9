"""Topics: the customer-experience taxonomy, and which topics each feedback item is about."""
