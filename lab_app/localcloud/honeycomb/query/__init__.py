"""Honeycomb query specifications: JSON -> AST -> DuckDB SQL with bound parameters."""
