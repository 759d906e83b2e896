"""Multi-camera geometry, Django-free: boards, cameras, calibration, triangulation, 3D scores.

Pure NumPy / OpenCV / SciPy like ``learning.engine`` (a test walks the imports): the Django
side (rigs, sessions, jobs) calls these functions with plain arrays and paths.
"""
