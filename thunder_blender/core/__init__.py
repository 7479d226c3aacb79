"""numpy-only building blocks: channels, audio features, sampler schedule, resampling, rig names."""
