"""Generated lookup tables (see scripts/gen_interpret_tables.py)."""
