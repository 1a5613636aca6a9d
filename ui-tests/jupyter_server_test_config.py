"""JupyterLab server for the UI tests: galata's test configuration, bound to 127.0.0.1.

scripts/test-ui.sh sets REPRO_UI_PORT and JUPYTERLAB_GALATA_ROOT_DIR (a fresh temporary folder).
"""

import os

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.port = int(os.environ.get("REPRO_UI_PORT", "8888"))  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.open_browser = False  # noqa: F821
# No update checks, no news: nothing leaves 127.0.0.1.
c.LabApp.news_url = None  # noqa: F821
# Notebook 7 (the `notebook` server extension, serving /tree and /notebooks/) reads its own trait:
# tests/notebook7.spec.ts drives its pages through `window.jupyterapp` as galata does for /lab.
c.JupyterNotebookApp.expose_app_in_browser = True  # noqa: F821
c.ServerApp.jpserver_extensions = {"jupyter_lsp": False}  # noqa: F821
