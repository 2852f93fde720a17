"""Backbones beside the timm extractor's ImageNet one, read from other frameworks' files."""
