"""Data: ShapesWorld synthetic scenes and their captions."""
