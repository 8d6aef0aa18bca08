"""Compatibility layers for code written against other video-generator packages."""
