"""Data: the prepared-data schema, the synthetic benchmark, real-dataset preprocessors, torch datasets."""
