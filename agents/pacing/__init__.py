"""Pacing: each user's daily context analysis and the posts written from it, as jobs on the same pipeline."""
