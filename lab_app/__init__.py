"""Cruddur tracing workbook: the services, query helpers into pandas, the local cloud (the SDK set-up is in the notebooks)."""
__version__ = "0.1.0"
