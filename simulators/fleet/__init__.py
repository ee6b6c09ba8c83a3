"""The headless fleet simulation's floors: generated warehouse grids."""
