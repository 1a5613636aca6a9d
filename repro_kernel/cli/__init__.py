"""``jupyter repro``: the JupyterApp subcommands, on top of every other layer."""
