"""One module per training part, each with ``train(ctx) -> report``."""
