"""One module per page: its SQL as named constants and a function that turns a
snapshot visit and the filters into what its template shows."""
