"""Verdicts and measurements as text, markdown, JSON, JUnit and the stage page."""
