"""Cruddur tracing workbook: services, instrumentation helpers, query helpers and the local cloud."""
__version__ = "0.1.0"
