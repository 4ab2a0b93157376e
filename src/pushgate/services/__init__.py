"""Use cases, one module per aggregate. They take validated values and a UnitOfWork; no HTTP."""
