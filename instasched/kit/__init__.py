"""Domain-free helpers: schemas base, pagination, time, dependencies."""
