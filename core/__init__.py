"""What every part of fedscore shares: task schema, validation, encoding, models, metrics."""
