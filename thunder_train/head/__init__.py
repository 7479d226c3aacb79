"""Builds the demo head asset (``thunder_blender/assets/demo_head.npz``) from MediaPipe's canonical face."""
