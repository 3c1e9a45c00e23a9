"""Demo data: a multilingual feedback set for the fictional grocery-delivery company Cestia."""
