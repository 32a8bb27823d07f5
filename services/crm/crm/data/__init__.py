"""Data files of the CRM domain (catalogue, tiering weights), loaded with importlib.resources."""
