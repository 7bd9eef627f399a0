"""The workbook's Jupyter kernel: ipykernel's ``IPythonKernel``, reporting Python's version as major.minor.

When JupyterLab connects to a kernel it copies the kernel's ``language_info`` into the notebook's metadata and marks
the notebook modified if that differs from what was saved. ipykernel reports the full version (3.11.7 here, another
3.11.x in a Codespace), so no committed value could match every machine and every notebook would open as
"unsaved". This kernel reports ``3.11``, the version the workbook pins, and ``tools/notebooks.py`` commits exactly
this ``language_info``. ``make install`` selects it with ``jupyter/ipython_kernel_config.py``.
"""
from __future__ import annotations

import sys

from ipykernel.ipkernel import IPythonKernel

LANGUAGE_INFO = {**IPythonKernel.language_info, "version": "%d.%d" % sys.version_info[:2]}


class WorkbookKernel(IPythonKernel):
    language_info = LANGUAGE_INFO
