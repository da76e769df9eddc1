"""Detail, settings and help screens."""
