"""The rules of the analysis, one module per family of flags."""
