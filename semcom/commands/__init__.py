"""Command groups of the semcom CLI; each module has ``register(app)``."""
