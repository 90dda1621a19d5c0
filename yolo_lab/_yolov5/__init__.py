"""YOLOv5 as yolo-lab uses it, the PyPI package or a user's checkout.

- :mod:`.compat`: YOLOv5 7.0 on today's numpy, Pillow and setuptools
  (``python -m yolo_lab._yolov5.compat yolov5.train ...`` runs YOLOv5 with
  the shims);
- :mod:`.options`: where YOLOv5 comes from, and the options a run's spec
  gives it (the one place batch ``"auto"`` becomes YOLOv5's -1).

Imported by the training process, ``train()`` and the doctor's findings.
"""
