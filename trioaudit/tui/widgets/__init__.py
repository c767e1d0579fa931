"""Small widgets of the trioaudit dashboard."""
