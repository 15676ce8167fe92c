"""The serving snapshot: the marts as one DuckDB file that readers own.

Nothing is imported here: publishing and reading need neither Dagster nor
dbt; the Dagster asset lives in `assets.py`.
"""
