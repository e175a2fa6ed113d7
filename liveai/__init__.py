"""liveai: a real-time improvisation engine that listens to a player and plays along in time."""
__version__ = "0.1.0"
