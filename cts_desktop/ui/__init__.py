"""Qt user interface: main window, tabs, tray; the only package importing Qt widgets."""
