"""The main window's tabs; each shows what the services hold and refreshes through its application part."""
