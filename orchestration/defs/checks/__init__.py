"""Great Expectations suites on the marts, run by Dagster as blocking asset checks (`assets.py`)."""
