"""The release: the bundled weights in one command, their model card, the examples."""
