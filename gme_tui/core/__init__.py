"""The shared floor under sources and consumers: time, backoff, mute state and the Protocols the
layers meet at. It imports nothing of gme-tui but the model, so every layer may stand on it."""
