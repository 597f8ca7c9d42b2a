"""The Flower ServerApp: strategies, the round loop, evaluation and the run directory."""
