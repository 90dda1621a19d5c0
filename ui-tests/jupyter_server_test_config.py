"""JupyterLab server configuration for the Galata tests.

Galata's helper sets a temporary root directory, no token (the server listens
on localhost only) and exposes the app to the browser for the test helpers.
"""

import os
import tempfile

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.ip = "127.0.0.1"
# playwright.config.js picks a free port and passes it here, so the tests do
# not collide with a JupyterLab on 8888 (scripts/lab.sh).
c.ServerApp.port = int(os.environ.get("YOLO_LAB_GALATA_PORT", "8888"))
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
# CI and the build machines run as root.
c.ServerApp.allow_root = True
c.LabApp.expose_app_in_browser = True
# The detached runs these tests start are recorded in a folder of this
# server's own, not in the user's ~/.local/share/yolo-lab/detached.
os.environ.setdefault("YOLO_LAB_DETACHED_DIR", tempfile.mkdtemp(prefix="yolo-lab-galata-"))
