"""The pages of the console, one module per area; each has ``register(app, console)``."""
