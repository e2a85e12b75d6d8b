"""leafctl: LEAF-ESP on Azure Machine Learning from one command tree."""

__version__ = "0.1.0"
