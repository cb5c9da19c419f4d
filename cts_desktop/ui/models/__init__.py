"""Qt table models of the Dashboard (one base model over a column spec) and the plain data they show."""
