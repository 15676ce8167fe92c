"""Collection side of journey analytics: contract, spool, simulator and loaders."""
