"""Modal screens of the trioaudit dashboard."""
