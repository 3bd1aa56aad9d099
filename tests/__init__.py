"""psfleet's own tests; `tests.support` holds what they share."""
