"""File format adapters (DeepLabCut, Lightning Pose, COCO, SLEAP): pure Python, no Django.

Every adapter reads into and writes from :class:`~learning.formats.pose.LabeledFrames`
and raises :class:`~learning.formats.errors.FormatError` for bad input.
"""
