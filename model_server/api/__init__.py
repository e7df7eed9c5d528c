"""The HTTP layer: one APIRouter module per group of routes, auth and body checks as ASGI
middleware and dependencies, errors turned into one JSON shape."""
