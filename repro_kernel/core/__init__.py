"""The bottom layer: records, the journal, hashing, the environment, notebook reading, code facts, redaction.

Imports nothing of the layers above (kernel, analysis, export, cli)."""
