"""Drivers (``drivers[]``): how the execute stage checkpoints, upgrades and rolls back a
target, with the host driver's command transports and snapshot recipes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from rollsafe.config.durations import Duration
from rollsafe.config.models.base import _ID_PATTERN, Command, Model


class LocalDriver(Model):
    """Hosts managed by commands on this machine (the base for SSH hosts later)."""

    kind: Literal["local"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    directory: str | None = Field(
        default=None, description="Directory captured as the built-in restore point"
    )
    upgrade: Command | None = Field(
        default=None, description="Command that upgrades a target (template)"
    )
    checkpoint: Command | None = Field(default=None, description="Extra command at checkpoint")
    rollback: Command | None = Field(default=None, description="Extra command at rollback")
    restart: Command | None = Field(default=None, description="Restarts the service after")
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment of the driver's commands"
    )
    step_timeout: Duration = Field(default=300.0, description="Longest time one command may run")

    @model_validator(mode="after")
    def _can_roll_back(self) -> LocalDriver:
        if self.directory is None and self.rollback is None:
            raise ValueError("give `directory` or `rollback` (or both): nothing to roll back")
        return self


AwsStrategy = Literal["replace-root-volume", "swap-volume"]


class AwsDriver(Model):
    """EC2 instances, rolled back to a snapshot of their root volume (boto3).

    The instance of a target is its ``vars.instance_id``. Credentials come only from the AWS
    SDK's own chain (environment, profile, instance role), never from this file.
    """

    kind: Literal["aws"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    region: str | None = Field(
        default=None, description="e.g. eu-west-1; default: the AWS SDK's own lookup"
    )
    endpoint_url: str | None = Field(
        default=None, description="A VPC endpoint of EC2, or a local stand-in in tests"
    )
    strategy: AwsStrategy = Field(
        default="replace-root-volume",
        description="replace-root-volume (in place, instance keeps running) or swap-volume "
        "(stop, detach, attach a volume made from the snapshot, start)",
    )
    replace_instance: bool = Field(
        default=False,
        description="Last resort when a restore leaves the instance without a root volume: "
        "launch a new instance from an image of the snapshot (its id and address change; "
        "the old one is stopped and kept)",
    )
    status_checks: bool = Field(
        default=True, description="Wait for the instance and system status checks to be ok"
    )
    poll_interval: Duration = Field(default=5.0, description="First wait between two polls")
    max_poll_interval: Duration = Field(default=30.0, description="Polls back off up to this")
    snapshot_wait: Duration = Field(default=3600.0, description="Longest wait for a snapshot")
    restore_wait: Duration = Field(
        default=1800.0, description="Longest wait for a root volume replacement or swap"
    )
    instance_wait: Duration = Field(
        default=900.0, description="Longest wait for the instance to stop, or to run and pass"
    )
    api_timeout: Duration = Field(default=30.0, description="Connect and read timeout of a call")
    api_attempts: int = Field(
        default=4, ge=1, le=10, description="Attempts of one call inside the SDK (throttling)"
    )
    upgrade: Command | None = Field(
        default=None, description="Command run on the controller to upgrade a target"
    )
    upgrade_timeout: Duration = Field(
        default=1800.0, description="Longest time the upgrade command may run"
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment of upgrade")

    @model_validator(mode="after")
    def _waits_make_sense(self) -> AwsDriver:
        for name in ("poll_interval", "snapshot_wait", "restore_wait", "instance_wait"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be greater than 0")
        if self.api_timeout <= 0 or self.upgrade_timeout <= 0:
            raise ValueError("api_timeout and upgrade_timeout must be greater than 0")
        if self.max_poll_interval < self.poll_interval:
            raise ValueError("max_poll_interval must be at least poll_interval")
        return self


class TencentEndpoints(Model):
    """Where each service's calls go instead of ``<service>.tencentcloudapi.com``."""

    cvm: str | None = Field(default=None, description="host[:port] of CVM, e.g. a stand-in")
    cbs: str | None = Field(default=None, description="host[:port] of CBS, e.g. a stand-in")


class TencentDriver(Model):
    """Tencent Cloud CVM instances, rolled back to a CBS snapshot of their system disk.

    The instance of a target is its ``vars.instance_id``. Credentials come only from the
    environment (TENCENTCLOUD_SECRET_ID / TENCENTCLOUD_SECRET_KEY) or the SDK's default
    provider chain (profile file, CVM role), never from this file.
    """

    kind: Literal["tencent"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    region: str = Field(pattern=r"^[a-z]+(-[a-z0-9]+)+$", description="e.g. ap-guangzhou")
    endpoints: TencentEndpoints = Field(
        default_factory=TencentEndpoints,
        description="Per-service API hosts instead of the public ones",
    )
    protocol: Literal["https", "http"] = Field(
        default="https", description="http only for a local stand-in"
    )
    strategy: Literal["auto-stop", "explicit"] = Field(
        default="auto-stop",
        description="auto-stop (ApplySnapshot stops and starts the instance itself) or "
        "explicit (StopInstances, ApplySnapshot, StartInstances)",
    )
    stop_type: Literal["SOFT", "SOFT_FIRST", "HARD"] = Field(
        default="SOFT_FIRST", description="StopInstances' StopType (explicit strategy)"
    )
    snapshot_expiry: Duration | None = Field(
        default=None, description="Snapshots delete themselves after this (at least 1 day)"
    )
    replace_instance: bool = Field(
        default=False,
        description="Last resort when the snapshot rollback leaves the instance unusable: "
        "launch a new instance from the image it ran at checkpoint time and stop the old one "
        "(the target's instance id changes: update vars.instance_id)",
    )
    poll_interval: Duration = Field(default=2.0, description="First wait between two polls")
    max_poll_interval: Duration = Field(default=15.0, description="Polls back off up to this")
    snapshot_wait: Duration = Field(default=3600.0, description="Longest wait for a snapshot")
    restore_wait: Duration = Field(
        default=240.0, description="Longest wait for ApplySnapshot's rollback to finish"
    )
    instance_wait: Duration = Field(
        default=240.0, description="Longest wait for the instance to stop or to run"
    )
    api_timeout: Duration = Field(default=30.0, description="Timeout of one API call")
    throttle_retry_after: Duration = Field(
        default=1.0, description="Wait before retrying a throttled call (RequestLimitExceeded)"
    )
    upgrade: Command | None = Field(
        default=None, description="Command run on the controller to upgrade a target"
    )
    upgrade_timeout: Duration = Field(
        default=1800.0, description="Longest time the upgrade command may run"
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment of upgrade")

    @model_validator(mode="after")
    def _waits_make_sense(self) -> TencentDriver:
        for name in (
            "poll_interval",
            "snapshot_wait",
            "restore_wait",
            "instance_wait",
            "api_timeout",
            "upgrade_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be greater than 0")
        if self.throttle_retry_after < 0:
            raise ValueError("throttle_retry_after must not be negative")
        if self.max_poll_interval < self.poll_interval:
            raise ValueError("max_poll_interval must be at least poll_interval")
        if self.snapshot_expiry is not None and self.snapshot_expiry < 86400:
            raise ValueError("snapshot_expiry must be at least 1 day (CBS refuses less)")
        return self


class AliyunDriver(Model):
    """Alibaba Cloud ECS instances, rolled back to a snapshot of their system disk.

    The instance of a target is its ``vars.instance_id``. Credentials come only from the
    Alibaba Cloud default credential chain (ALIBABA_CLOUD_ACCESS_KEY_ID /
    ALIBABA_CLOUD_ACCESS_KEY_SECRET, CLI profile, ECS RAM role ...), never from this file.
    """

    kind: Literal["aliyun"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    region_id: str = Field(pattern=r"^[a-z]+(-[a-z0-9]+)+$", description="e.g. cn-hangzhou")
    endpoint: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$",
        description="host[:port] of the ECS API (a VPC endpoint, or a local stand-in in "
        "tests); default: the region's public endpoint",
    )
    protocol: Literal["https", "http"] = Field(
        default="https", description="http only for a local stand-in"
    )
    stopped_mode: Literal["KeepCharging", "StopCharging"] = Field(
        default="KeepCharging",
        description="StopInstance's StoppedMode: KeepCharging keeps the instance's resources, "
        "so the restart after the rollback cannot fail for lack of stock",
    )
    force_stop: bool = Field(default=False, description="StopInstance's ForceStop (power off)")
    replace_system_disk: bool = Field(
        default=False,
        description="Last resort when the snapshot cannot be used: ReplaceSystemDisk from the "
        "image the instance ran at checkpoint time (everything written since is lost)",
    )
    snapshot_retention_days: int | None = Field(
        default=None, ge=1, le=65536, description="Snapshots delete themselves after this"
    )
    poll_interval: Duration = Field(default=5.0, description="First wait between two polls")
    max_poll_interval: Duration = Field(default=30.0, description="Polls back off up to this")
    snapshot_wait: Duration = Field(default=3600.0, description="Longest wait for a snapshot")
    restore_wait: Duration = Field(
        default=180.0, description="Longest wait for a reset (or replaced) system disk"
    )
    instance_wait: Duration = Field(
        default=240.0, description="Longest wait for the instance to stop or to run"
    )
    api_timeout: Duration = Field(default=30.0, description="Connect and read timeout of a call")
    api_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a throttled call that cannot act twice"
    )
    upgrade: Command | None = Field(
        default=None,
        description="Shell command run ON THE INSTANCE by Cloud Assistant (RunCommand); "
        "a template like every command",
    )
    upgrade_timeout: Duration = Field(default=1800.0, description="RunCommand's Timeout")

    @model_validator(mode="after")
    def _waits_make_sense(self) -> AliyunDriver:
        for name in (
            "poll_interval",
            "snapshot_wait",
            "restore_wait",
            "instance_wait",
            "api_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be greater than 0")
        if self.max_poll_interval < self.poll_interval:
            raise ValueError("max_poll_interval must be at least poll_interval")
        if not 10 <= self.upgrade_timeout <= 86400:
            raise ValueError("upgrade_timeout must be from 10s to 24h (RunCommand's limits)")
        return self


# ----------------------------------------------------------- command transports (host driver)


class LocalTransport(Model):
    """Commands run on this machine (the controller is the host)."""

    kind: Literal["local"]


class SshTransport(Model):
    """Commands run over SSH (asyncssh). The host is the target's ``address``.

    Host keys are always verified against ``known_hosts``: there is no "accept any key" mode.
    Authentication is by ``identity_file`` (a private key file) or, when it is not given, by
    the keys of a running ssh-agent (``SSH_AUTH_SOCK``).
    """

    kind: Literal["ssh"]
    user: str = Field(default="root", description="Login user on the host")
    port: int = Field(default=22, ge=1, le=65535, description="SSH port of the host")
    known_hosts: str = Field(
        description="known_hosts file the host key must be in (no silent trust on first use)"
    )
    identity_file: str | None = Field(
        default=None, description="Private key file; default: keys of the ssh-agent"
    )
    passphrase_env: str | None = Field(
        default=None, description="Environment variable holding the key's passphrase"
    )
    connect_timeout: Duration = Field(default=10.0, description="TCP connect + SSH handshake")
    keepalive_interval: Duration = Field(
        default=15.0, description="SSH keepalive period of idle connections"
    )
    max_sessions: int = Field(default=4, ge=1, description="Commands at once on one host")


class SsmTransport(Model):
    """Commands run by AWS Systems Manager Run Command (``AWS-RunShellScript``).

    The instance is the target's ``vars.instance_id``; credentials come from the AWS SDK chain.
    """

    kind: Literal["aws_ssm"]
    region: str | None = Field(
        default=None, description="AWS region; default: the SDK's own lookup"
    )
    endpoint_url: str | None = Field(default=None, description="VPC endpoint, or a stand-in")
    poll_interval: Duration = Field(default=2.0, description="GetCommandInvocation period")
    output_s3_bucket: str | None = Field(
        default=None, description="Bucket for outputs longer than the API returns (24,000 chars)"
    )


class AliyunAssistantTransport(Model):
    """Commands run by Alibaba Cloud Assistant (``RunCommand`` / ``DescribeInvocationResults``).

    The instance is the target's ``vars.instance_id``. Credentials as for the aliyun driver:
    the SDK's own chain, never this file.
    """

    kind: Literal["aliyun_assistant"]
    region: str = Field(description="Region id, e.g. cn-hangzhou")
    endpoint: str | None = Field(default=None, description="Default: ecs.<region>.aliyuncs.com")
    poll_interval: Duration = Field(
        default=2.0, description="Time between two reads of the command's result"
    )


class TencentTatTransport(Model):
    """Commands run by Tencent Cloud TAT (``RunCommand`` / ``DescribeInvocationTasks``).

    The instance is the target's ``vars.instance_id``. Credentials as for the tencent driver:
    the SDK's own chain, never this file.
    """

    kind: Literal["tencent_tat"]
    region: str = Field(description="Region, e.g. ap-guangzhou")
    endpoint: str | None = Field(default=None, description="Default: tat.tencentcloudapi.com")
    poll_interval: Duration = Field(
        default=2.0, description="Time between two reads of the command's result"
    )


Transport = Annotated[
    LocalTransport | SshTransport | SsmTransport | AliyunAssistantTransport | TencentTatTransport,
    Field(discriminator="kind"),
]

# --------------------------------------------------------------------- recipes (host driver)


class DirectoryRecipe(Model):
    """A copy of one directory (the local driver's restore point, run through a transport)."""

    kind: Literal["directory"]
    path: str = Field(description="Directory captured and restored, on the host")
    snapshots: str | None = Field(
        default=None, description="Where copies are kept; default: <path>.rollsafe-snapshots"
    )


class BtrfsRecipe(Model):
    """A read-only snapshot of a btrfs subvolume; rollback makes a writable copy of it active."""

    kind: Literal["btrfs"]
    subvolume: str = Field(description="Path of the active subvolume, e.g. /srv/app")
    snapshots: str = Field(description="Directory (same file system) holding the snapshots")


class SnapperRecipe(Model):
    """A snapper ``pre`` snapshot; rollback with ``snapper rollback`` or ``undochange``."""

    kind: Literal["snapper"]
    config: str = Field(default="root", description="snapper config name (-c)")
    mode: Literal["rollback", "undochange"] = Field(
        default="undochange",
        description="rollback: new default subvolume + reboot; undochange: revert files now",
    )
    reboot_timeout: Duration = Field(
        default=600.0, description="How long the host may take to come back after a reboot"
    )
    no_dbus: bool = Field(
        default=False,
        description="Run snapper --no-dbus (as root, without the snapperd D-Bus service)",
    )


class LvmRecipe(Model):
    """An LVM snapshot of a logical volume; rollback merges it back (``lvconvert --merge``)."""

    kind: Literal["lvm"]
    volume_group: str = Field(description="Volume group of the logical volume")
    logical_volume: str = Field(description="Logical volume snapshotted and merged back")
    snapshot_size: str = Field(default="1G", description="-L of lvcreate, e.g. 2G or 20%ORIGIN")
    reboot_timeout: Duration = Field(
        default=600.0, description="How long the host may take to come back after a reboot"
    )


class AptRecipe(Model):
    """The installed package set (names and versions); rollback installs exactly that set."""

    kind: Literal["apt"]
    packages: list[str] | None = Field(
        default=None, description="Only these packages; default: every installed package"
    )


class DnfRecipe(Model):
    """The dnf transaction id before the upgrade; rollback is ``dnf history undo`` past it."""

    kind: Literal["dnf"]
    packages: list[str] | None = Field(
        default=None,
        description="Only these packages are recorded and checked; default: all installed",
    )


class OstreeRecipe(Model):
    """Image-based hosts: rollback to the previous deployment and reboot into it."""

    kind: Literal["rpm-ostree", "bootc"]
    reboot_timeout: Duration = Field(
        default=600.0, description="How long the host may take to come back after a reboot"
    )


class Qcow2Recipe(Model):
    """An internal snapshot of a VM disk image (``qemu-img snapshot``) taken while it is stopped."""

    kind: Literal["qcow2"]
    image: str = Field(description="Path of the .qcow2 image on the host")
    stop: Command | None = Field(default=None, description="Stops the VM (e.g. virsh shutdown)")
    start: Command | None = Field(default=None, description="Starts the VM again")


class ScriptRecipe(Model):
    """The users' own scripts for each phase."""

    kind: Literal["script"]
    checkpoint: Command | None = Field(
        default=None, description="Command that takes a restore point"
    )
    rollback: Command = Field(description="Command that restores the restore point")
    verify: Command | None = Field(
        default=None, description="Command whose exit code 0 means the rollback worked"
    )


Recipe = Annotated[
    DirectoryRecipe
    | BtrfsRecipe
    | SnapperRecipe
    | LvmRecipe
    | AptRecipe
    | DnfRecipe
    | OstreeRecipe
    | Qcow2Recipe
    | ScriptRecipe,
    Field(discriminator="kind"),
]


class HostDriver(Model):
    """Hosts rolled back through their OS by a recipe, with commands sent by a transport."""

    kind: Literal["host"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    transport: Transport = Field(
        default_factory=lambda: LocalTransport(kind="local"),
        description="How commands reach the host: local, ssh, aws_ssm, aliyun_assistant, "
        "tencent_tat",
    )
    recipe: Recipe = Field(description="How a restore point is taken, restored and checked")
    upgrade: Command | None = Field(
        default=None, description="Command that upgrades the host, run through the transport"
    )
    restart: Command | None = Field(default=None, description="Restarts the service after")
    env: dict[str, str] = Field(
        default_factory=dict, description="Extra environment of the driver's commands"
    )
    step_timeout: Duration = Field(default=300.0, description="Longest time one command may run")
    output_limit: int = Field(
        default=16384, ge=256, description="Bytes of each command's output kept in the audit"
    )
    use_sudo: bool = Field(default=False, description="Prefix recipe commands with sudo -n")


class KubernetesDriver(Model):
    """Deployments rolled back to their previous revision, as ``kubectl rollout undo`` does.

    The Deployment of a target is ``vars.deployment`` in ``vars.namespace`` (default
    ``namespace`` here).
    """

    kind: Literal["kubernetes"]
    name: str = Field(pattern=_ID_PATTERN, description="Name targets refer to in their `driver`")
    kubeconfig: str | None = Field(
        default=None, description="kubeconfig file; default: in-cluster, then ~/.kube/config"
    )
    context: str | None = Field(
        default=None, description="kubeconfig context; default: the current one"
    )
    namespace: str = Field(
        default="default", description="Namespace of targets without `vars.namespace`"
    )
    rollout_timeout: Duration = Field(
        default=300.0, description="How long a rollback may take to be complete and ready"
    )
    poll_interval: Duration = Field(
        default=2.0, description="Time between two reads of the rollout's progress"
    )
    upgrade_image: str | None = Field(
        default=None, description="container=image set by `upgrade` (drills, demos)"
    )


Driver = Annotated[
    LocalDriver | AwsDriver | TencentDriver | AliyunDriver | HostDriver | KubernetesDriver,
    Field(discriminator="kind"),
]
