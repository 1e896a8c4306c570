"""semcom."""
