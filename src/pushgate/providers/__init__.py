"""Push service adapters behind one interface (base.Provider), and their registry."""
