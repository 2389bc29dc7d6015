"""HTTP layer: the FastAPI application (``create_app``) and its routers."""
