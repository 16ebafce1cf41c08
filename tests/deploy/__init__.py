"""Deployment: the container and Fly.io configuration, rolling restarts under load."""
