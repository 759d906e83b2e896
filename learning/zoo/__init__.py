"""The lab model zoo: published models, bundles, adopting a model into a project."""
