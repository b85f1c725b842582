"""Pure Kubernetes logic for the kubernetes driver: rollback planning and rollout health."""
