# Installed into .venv/etc/jupyter by `make install`; read by every Jupyter application of the venv (JupyterLab,
# nbconvert). Kernels talk to the application over Unix sockets in Jupyter's private runtime directory instead of
# TCP ports on 127.0.0.1: nothing listens on a port, and ipykernel has no "running over TCP without encryption"
# warning to print. The socket path must be absolute: the kernel runs in the notebook's folder, the server does not.
import os

from jupyter_core.paths import jupyter_runtime_dir

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)
c.KernelManager.transport = "ipc"
c.KernelManager.ip = os.path.join(jupyter_runtime_dir(), "kernel")
# On a new machine the directory does not exist until some Jupyter application writes a connection file there, and
# nbconvert's kernel can bind its sockets before that ("No such file or directory for ipc path"): create it first,
# private to the user as Jupyter makes it.
os.makedirs(jupyter_runtime_dir(), mode=0o700, exist_ok=True)
