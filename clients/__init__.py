"""The Flower ClientApp of an institution: local data, DP training, local evaluation."""
