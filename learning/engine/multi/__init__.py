"""Multi-animal pose (Django-free, built on the single-animal engine).

Modules: samples (MultiSample, anchor), config (TopDownConfig, BottomUpConfig), peaks
(multi-peak decoding), crops, topdown (the design PoseLoop ships), bottomup (for comparison),
match (instance matching and errors), fitting (shared training helpers), checkpoint
(`load_predictor`).
"""
