"""Request overlap, suggested mappings, collection plans and the burden model."""
