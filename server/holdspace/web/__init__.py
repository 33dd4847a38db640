"""The Starlette edge: authenticate, parse, call the services, send what comes back."""
