"""PoseLoop's pose engine: pure PyTorch/NumPy, importing nothing from Django or the apps.

Modules: config, data, targets, network, loss, decode, train, checkpoint, predict, metrics;
multi/ builds multi-animal designs (top-down, bottom-up) on them.
"""

import os

# On a CPU shared with other processes, OpenMP threads that spin while waiting for each other
# make training several times slower (measured: 3.7 vs 14.8 images/s). Only effective if set
# before torch is first imported; an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
