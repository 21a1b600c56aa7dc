"""HTTP layer: the FastAPI app, thin routes, schemas, and error mapping."""
