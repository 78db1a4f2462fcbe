"""lbi's tests: pytest on CPU (a package, so that they import each other's helpers from any working directory)."""
