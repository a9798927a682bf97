"""Board targets and the host link."""
