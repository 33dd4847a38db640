"""The Holdspace web app: plain ES modules, HTML and CSS, served by the server at ``/``.

No build step: what is in ``static/`` is what the browser runs.
"""

from pathlib import Path

STATIC = Path(__file__).parent / "static"
INDEX = STATIC / "index.html"

__all__ = ["INDEX", "STATIC"]
