"""One repository per aggregate; each works inside the connection of one UnitOfWork."""
