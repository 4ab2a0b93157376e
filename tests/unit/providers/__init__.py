"""Provider adapters: payload rendering and answer tables."""
