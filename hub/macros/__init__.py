"""Reply templates (macros): canned replies per language with placeholders for the case."""
