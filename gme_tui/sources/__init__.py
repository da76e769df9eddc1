"""Sources produce trades for the engine: live exchanges, replay files, the simulator."""
