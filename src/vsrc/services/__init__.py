"""Use-cases: keyword-only functions over a SQLAlchemy session that raise ``vsrc.errors``."""
