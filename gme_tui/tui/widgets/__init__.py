"""Widgets of the main screen; each renders state it is given and fetches nothing."""
