"""The headless box: systemd service, hot-plug and auto-connect, persistent config, aarch64 check,
and the at-rest measurements (start-up time, idle CPU)."""
