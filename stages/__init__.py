"""One click command per DVC stage, run as `python -m stages.<name>` from the repository root."""
