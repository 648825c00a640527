"""Reusable widgets: the big paged list and its cell formatting."""
