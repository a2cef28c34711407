"""The bundled configs (package data): teachers, recipes, training configs and the demo's files."""
