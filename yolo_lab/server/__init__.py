"""The Jupyter server side of yolo-lab (the server extension).

- :mod:`.extension`: the extension itself: detached runs' REST endpoints,
  the servers ``yolo-lab up`` started, the class's endpoints under JupyterHub;
- :mod:`.classroom`: a class on one GPU server, seen from a student's server
  (activity reports to the class service, the teacher's view).

The kernel side of detached runs is :mod:`yolo_lab.training.detached`.
"""
