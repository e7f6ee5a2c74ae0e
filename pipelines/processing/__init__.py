"""The stream processors: response tracking, surge detection, alerts and their delivery."""
