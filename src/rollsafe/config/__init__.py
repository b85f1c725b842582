"""Configuration: the YAML file a user writes, validated at the edge into typed models."""
