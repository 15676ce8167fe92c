"""The scheduled stakeholder report: serving snapshot → HTML, PNG and CSV files → email.

Nothing is imported here: `journey report` reaches the renderer without
paying for Dagster; the asset and its job live in `assets.py`.
"""
