"""The HTTP collector: validates, authenticates, makes durable, then acknowledges."""
