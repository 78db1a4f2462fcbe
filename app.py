"""Launches the Gradio app from a checkout: ``python app.py [--port 7860] [--weights FILE] ...`` is ``lbi app ...``
(``lbi/app.py``)."""

import sys

from lbi.cli import main

if __name__ == "__main__":
    sys.exit(main(["app", *sys.argv[1:]]))
