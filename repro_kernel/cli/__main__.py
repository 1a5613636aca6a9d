"""``python -m repro_kernel.cli``: the same as ``jupyter repro``."""

from repro_kernel.cli.main import main

main()
