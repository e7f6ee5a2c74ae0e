"""The `dorpspomp` commands: the CLI, the local stack, replay and status."""
