"""Real components the tests start (collector, Dagster, NATS, PostgreSQL, SMTP, Spark, a
browser) and what they share."""

from pathlib import Path

# The checkout the tests run from: its docs, dbt project and code are read as files.
REPO = Path(__file__).resolve().parents[2]
