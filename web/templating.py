"""The jinja2 environment every page renders with: autoescape always on."""

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),  # feedback text is untrusted: escape always
)
templates = Jinja2Templates(env=environment)
