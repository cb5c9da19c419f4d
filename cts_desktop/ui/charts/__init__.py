"""Price charts (pyqtgraph): a bar-index candlestick chart with a volume pane, markers, levels and a crosshair."""
