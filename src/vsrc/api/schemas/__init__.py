"""Response and request models (camelCase, as the public API spec)."""
