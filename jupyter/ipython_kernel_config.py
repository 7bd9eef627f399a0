# Installed into .venv/etc/ipython by `make install`; read by every kernel the venv starts. The workbook's kernel
# reports Python as "3.11" rather than "3.11.x", so JupyterLab does not mark a notebook modified when it opens it
# (see lab_app/kernel.py).
c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.IPKernelApp.kernel_class = "lab_app.kernel.WorkbookKernel"
