"""Online heuristics."""
