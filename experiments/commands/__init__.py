"""The ``semcom`` commands that run experiments (``transmit``, ``sweep``/``export``/``plot``,
``evaluate``). They live here, not under :mod:`semcom.commands`, so that nothing in the
semcom package imports experiments; the CLI finds every command through the
``semcom.commands`` entry-point group (pyproject.toml)."""
