"""The leaves every layer may use: settings, units, files, child processes, figure names, statistics."""
