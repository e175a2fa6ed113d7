"""Singing as the player's input (issue 17): audio in, pitch trackers, note segmentation.

Named apart from the band's voices (bass, tenor, alto), which live in band/ and engine/."""
