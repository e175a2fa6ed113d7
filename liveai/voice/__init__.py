"""Voice as the player: audio input, pitch trackers, note segmentation (issue 17)."""
