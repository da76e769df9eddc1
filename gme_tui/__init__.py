"""gme-tui: a terminal monitor of taker fund flow across Binance, OKX, Bybit and Coinbase."""

__version__ = "0.1.0"
