"""VSRC - Video Streaming & Recording Cloud."""

__version__ = "0.1.0"
