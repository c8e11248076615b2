# Package of the debuggee programs' library code (a second module, so tests can set
# breakpoints in a file other than the main script).
