"""The package version, from the one place it is set (package.json, copied into _version.py at build)."""

try:
    from repro_kernel._version import __version__ as version
except ImportError:  # a source tree that was never built
    version = "0.0.0.dev0"
